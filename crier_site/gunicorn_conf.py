"""gunicorn settings for CRIER's web service, from the environment (README "Settings").

    gunicorn -c crier_site/gunicorn_conf.py crier_site.wsgi

Each worker process that answers a search by image loads the encoder (LiteRT: ~190 MiB
resident after its first search; with CRIER_RUNTIME=tensorflow about 1 GB, docs/deployment.md):
size CRIER_WEB_WORKERS by memory as much as by cores. Threads share one process's encoder, so
more threads cost little memory. CRIER_WEB_THREADS=1 (gunicorn's sync workers) answered a
search by a 12-MP photo 5-12 ms faster at p50 in most runs, but then each process serves one
request at a time, slow uploads included (docs/benchmarks.md "Camera photos end to end").
"""

import os

bind = os.environ.get("CRIER_BIND") or (
    f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
)
workers = int(os.environ.get("CRIER_WEB_WORKERS") or 2)
threads = int(os.environ.get("CRIER_WEB_THREADS") or 4)
# The first search in a process loads TensorFlow and the encoder (seconds on a busy machine);
# big uploads take time too: do not let gunicorn kill a worker for that.
timeout = int(os.environ.get("CRIER_WEB_TIMEOUT") or 120)
# Idle keep-alive connections are closed after this many seconds. gunicorn's default (2 s) equals
# the poll interval of clients that watch a corpus index (the pages' script, the demo notebook):
# a poll arriving just as its connection is closed gets "connection reset" (seen in the e2e
# tests). 5 s leaves such clients a margin; a proxy in front usually opens new connections.
keepalive = 5
# On SIGTERM, requests in flight get this long to finish before the workers are killed.
graceful_timeout = 10
# gunicorn's runtime control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl):
# a second server on the machine (a test, a benchmark) would take it over. Not used by CRIER.
control_socket_disable = True
# Request lines of any length: a query string within the API's declared limits can pass 4094
# bytes (gunicorn's default, answered with gunicorn's HTML 414) once percent-encoded; the app
# itself answers one over 128 KiB with its JSON 414 (crier_site/api/validation.py). A reverse
# proxy in front bounds it too (nginx: large_client_header_buffers).
limit_request_line = 0
accesslog = "-"
errorlog = "-"
