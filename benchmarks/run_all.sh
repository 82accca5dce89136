#!/usr/bin/env bash
# Reproduce every figure of benchmarks/README.md on this machine, in one go.
#
#   benchmarks/run_all.sh [FIGURE...]      (default: all figures; see the list below)
#
# Starts a fresh `ekiden serve` (data in a temporary directory), a fresh `moto_server`
# and benchmarks/fixed_response_server.py, each on a free port; runs `ekiden bench` for
# each figure, writing the text report to stdout and the JSON to $OUT; stops the servers
# it started (by their process ids) on exit. Environment:
#   PY        the Python of the ekiden venv            (default .venv/bin/python)
#   MOTO      the moto server command                  (default moto_server)
#   OUT       where the JSON reports go                (default benchmarks/results/<commit>)
#   DURATION  seconds per measured phase               (default 10)
#   ROUNDS    rounds, medians reported                 (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
MOTO=${MOTO:-moto_server}
COMMIT=$(git rev-parse --short HEAD)
OUT=${OUT:-benchmarks/results/$COMMIT}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
mkdir -p "$OUT"
WORK=$(mktemp -d)

cleanup() {
    local pid
    for file in "$WORK"/*.pid; do
        [[ -e $file ]] || continue
        pid=$(<"$file")
        kill "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start NAME COMMAND...: run it in the background, wait for its URL in its log, print it.
# (It runs in a command substitution, a subshell: the process id goes to a file.)
start() {
    local name=$1; shift
    "$@" >"$WORK/$name.log" 2>&1 &
    echo $! >"$WORK/$name.pid"
    for _ in $(seq 200); do
        local url
        url=$(grep -oE '(listening on|Running on) http://[0-9.]+:[0-9]+' "$WORK/$name.log" | head -1 | grep -oE 'http://.*' || true)
        if [[ -n $url ]]; then echo "$url"; return; fi
        sleep 0.1
    done
    echo "$name did not start:" >&2; cat "$WORK/$name.log" >&2; exit 1
}

EKIDEN=$(start ekiden "$PY" -m ekiden serve --port 0 --data-dir "$WORK/ekiden-data")
MOTO_URL=$(start moto "$MOTO" -p "$(free_port)")
FIXED=$(start fixed "$PY" benchmarks/fixed_response_server.py --port 0)

echo "commit $COMMIT; ekiden $EKIDEN, moto $MOTO_URL, fixed $FIXED; JSON in $OUT"
nproc; grep -m1 'model name' /proc/cpuinfo; grep MemTotal /proc/meminfo; "$PY" -V

bench() { # NAME ARGS...: one figure
    local name=$1; shift
    echo; echo "### $name: ekiden bench $*"
    "$PY" -m ekiden bench "$@" --json "$OUT/$name.json"
}

T=(--duration "$DURATION" --rounds "$ROUNDS")
# The set-up of the performance targets: 100-byte bodies, 64 requests in flight.
G=(--body-size 100 --concurrency 64)
declare -A FIGURES=(
    # ekiden alone in the target set-up
    [target-send]="send --endpoint $EKIDEN ${G[*]} ${T[*]}"
    [target-send-batch]="send-batch --endpoint $EKIDEN ${G[*]} ${T[*]}"
    [target-drain]="drain --endpoint $EKIDEN ${G[*]} ${T[*]}"
    [target-send-batch-fifo]="send-batch --endpoint $EKIDEN --fifo --groups 100 ${G[*]} ${T[*]}"
    [target-latency]="latency --endpoint $EKIDEN --rate 1000 --body-size 100 ${T[*]}"
    [target-long-poll]="long-poll --endpoint $EKIDEN --body-size 100 ${T[*]}"
    # the load generator against the fixed-response server (A) and ekiden (B), target set-up
    [target-calibration]="send --endpoint $FIXED --compare $EKIDEN ${G[*]} ${T[*]}"
    [target-calibration-send-batch]="send-batch --endpoint $FIXED --compare $EKIDEN ${G[*]} ${T[*]}"
    [target-calibration-drain]="drain --endpoint $FIXED --compare $EKIDEN ${G[*]} ${T[*]}"
    [target-calibration-fifo]="send-batch --endpoint $FIXED --compare $EKIDEN --fifo --groups 100 ${G[*]} ${T[*]}"
    # ekiden (A) against moto (B), alternating, medians of $ROUNDS rounds, target set-up
    # (a fixed count for drain and a low rate for latency: moto is far too slow for more)
    [vs-moto-send]="send --endpoint $EKIDEN --compare $MOTO_URL ${G[*]} ${T[*]}"
    [vs-moto-send-batch]="send-batch --endpoint $EKIDEN --compare $MOTO_URL ${G[*]} ${T[*]}"
    [vs-moto-send-batch-fifo]="send-batch --endpoint $EKIDEN --compare $MOTO_URL --fifo --groups 100 ${G[*]} ${T[*]}"
    [vs-moto-drain]="drain --endpoint $EKIDEN --compare $MOTO_URL ${G[*]} --messages 1000 --rounds $ROUNDS"
    [vs-moto-latency]="latency --endpoint $EKIDEN --compare $MOTO_URL --rate 50 --body-size 100 ${T[*]}"
    [vs-moto-long-poll]="long-poll --endpoint $EKIDEN --compare $MOTO_URL --body-size 100 ${T[*]}"
    [vs-moto-backlog]="backlog --endpoint $EKIDEN --compare $MOTO_URL --backlog 2000 --duration 5 --rounds $ROUNDS"
    # ekiden alone
    [ekiden-send]="send --endpoint $EKIDEN ${T[*]}"
    [ekiden-send-2p]="send --endpoint $EKIDEN --processes 2 --concurrency 128 ${T[*]}"
    [ekiden-send-batch]="send-batch --endpoint $EKIDEN ${T[*]}"
    [ekiden-send-batch-fifo]="send-batch --endpoint $EKIDEN --fifo --groups 10 ${T[*]}"
    [ekiden-drain]="drain --endpoint $EKIDEN ${T[*]}"
    [ekiden-latency]="latency --endpoint $EKIDEN ${T[*]}"
    [ekiden-long-poll]="long-poll --endpoint $EKIDEN ${T[*]}"
    [ekiden-backlog]="backlog --endpoint $EKIDEN ${T[*]}"
    # the load generator against the fixed-response server (A) and ekiden (B)
    [calibration]="send --endpoint $FIXED --compare $EKIDEN ${T[*]}"
    [calibration-pipelined]="send --endpoint $FIXED --pipeline 8 --concurrency 64 ${T[*]}"
    [calibration-2p-pipelined]="send --endpoint $FIXED --processes 2 --pipeline 8 --concurrency 128 ${T[*]}"
)
ORDER=(target-send target-send-batch target-drain target-send-batch-fifo target-latency
       target-long-poll target-calibration target-calibration-send-batch
       target-calibration-drain target-calibration-fifo vs-moto-send vs-moto-send-batch
       vs-moto-send-batch-fifo vs-moto-drain vs-moto-latency vs-moto-long-poll
       vs-moto-backlog ekiden-send ekiden-send-2p ekiden-send-batch ekiden-send-batch-fifo
       ekiden-drain ekiden-latency ekiden-long-poll ekiden-backlog calibration
       calibration-pipelined calibration-2p-pipelined)

for name in "${@:-${ORDER[@]}}"; do
    [[ -n ${FIGURES[$name]:-} ]] || { echo "unknown figure $name (one of ${ORDER[*]})" >&2; exit 2; }
    # shellcheck disable=SC2086 # the figure is a list of words on purpose
    bench "$name" ${FIGURES[$name]}
    # VmHWM: the most the server's resident set has been at any time so far.
    echo "ekiden RSS after $name: $(ps -o rss= -p "$(<"$WORK/ekiden.pid")") KiB;" \
        "peak so far $(awk '/^VmHWM/ {print $2}' "/proc/$(<"$WORK/ekiden.pid")/status") KiB"
done
