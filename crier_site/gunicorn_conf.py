"""gunicorn settings for CRIER's web service, from the environment (README "Settings").

    gunicorn -c crier_site/gunicorn_conf.py crier_site.wsgi

Each worker process that answers a search by image loads TensorFlow and the encoder (about
1 GB resident, docs/deployment.md): size CRIER_WEB_WORKERS by memory as much as by cores.
Threads share one process's encoder, so more threads cost little memory.
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
# On SIGTERM, requests in flight get this long to finish before the workers are killed.
graceful_timeout = 10
# Recycle processes now and then so memory held by one huge request is given back.
max_requests = 2000
max_requests_jitter = 200
# gunicorn's runtime control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl):
# a second server on the machine (a test, a benchmark) would take it over. Not used by CRIER.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
