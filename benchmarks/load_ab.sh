#!/bin/bash
# Interleaved A/B of benchmarks/load.py between two checkouts (issue #21's refactor check).
#   benchmarks/load_ab.sh NOW_TREE BASE_TREE OUT_DIR [reps]
#   MODES="8:0" benchmarks/load_ab.sh ...   # only the closed loop (clients:think per mode)
# Each tree needs .venv and a PostgreSQL database of its own: crier_bench (NOW) and crier_base
# (BASE), owner crier. Per rep and mode (1 client in flight per kind; 8 paced clients; 8 closed
# loop) it runs NOW then BASE, each database ANALYZEd first, 1,000 images, 40 s of load,
# gunicorn only, copy search off (the baseline has none), and writes one JSON per run; the
# table lines go to stdout.
set -u
now=$1 base=$2 out=$3 reps=${4:-3}
mkdir -p "$out"
for rep in $(seq 1 "$reps"); do
  for mode in ${MODES:-1:0 8:0.5 8:0}; do
    set -- ${mode/:/ }
    for tree in now base; do
      if [ $tree = now ]; then dir=$now db=crier_bench redis=5; else dir=$base db=crier_base redis=6; fi
      tag=$tree-c$1-t$2-$rep
      echo "== $(date +%T) $tag load $(cut -d' ' -f1-3 /proc/loadavg)"
      # Statistics as autovacuum keeps them in production (it is off on the development
      # machine): unanalysed tables get plans that differ from schema to schema.
      psql -h 127.0.0.1 -U crier -qc ANALYZE "$db" 2>/dev/null || true
      (cd "$dir" && CRIER_COPY_SEARCH=0 PYTHONPATH=$dir .venv/bin/python benchmarks/load.py \
        --database-url "postgres://crier:crier@127.0.0.1:5432/$db" \
        --redis-url "redis://127.0.0.1:6379/$redis" --images 1000 --duration 40 \
        --clients "$1" --think "$2" --skip-runserver --json "$out/$tag.json") 2>&1 | grep "gunicorn |"
    done
  done
done
