#!/usr/bin/env bash
# Where the server's CPU goes: run one `ekiden bench` scenario against a fresh
# `ekiden serve` and report the server's CPU time per message, by thread (the event-loop
# thread, "main", and the store's writer thread, "store"), from /proc.
#
#   benchmarks/profile.sh SCENARIO [BENCH ARGS...]
#   benchmarks/profile.sh send-batch --duration 10
#   PYSPY=1 benchmarks/profile.sh send --duration 10   # also a py-spy profile (needs py-spy)
#
# The bench runs with 100-byte bodies and 64 requests in flight unless the arguments say
# otherwise. With PYSPY=1 a raw py-spy profile of the server (GIL holders only) is written
# to profile-<scenario>.txt (collapsed stacks: `thread;frame;...;frame count`).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SCENARIO=$1; shift
WORK=$(mktemp -d)
"$PY" -m ekiden serve --port 0 --data-dir "$WORK/data" >"$WORK/log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do grep -q listening "$WORK/log" && break; sleep 0.1; done
URL=$(grep -oE 'http://[0-9.]+:[0-9]+' "$WORK/log" | head -1)

ticks() { # per thread, in thread-creation order: user and system time in clock ticks
    for task in /proc/$SERVER/task/*; do
        awk '{print $14, $15}' "$task/stat"
    done
}
ticks >"$WORK/before"
SPY=
if [[ -n ${PYSPY:-} ]]; then
    .venv/bin/py-spy record -p "$SERVER" -d 8 -r 250 -f raw --threads --gil \
        -o "profile-$SCENARIO.txt" >/dev/null 2>&1 &
    SPY=$!
fi
"$PY" -m ekiden bench "$SCENARIO" --endpoint "$URL" --body-size 100 --concurrency 64 "$@" \
    | tee "$WORK/report"
if [[ -n $SPY ]]; then wait "$SPY"; fi
ticks >"$WORK/after"
MESSAGES=$(awk '$1 == "A" {gsub(",", "", $2); total += $2} END {print total}' "$WORK/report")
paste "$WORK/before" "$WORK/after" | awk -v msgs="$MESSAGES" -v hz="$(getconf CLK_TCK)" '
    NR == 1 {name = "main"} NR == 2 {name = "store"} NR > 2 {name = "other"}
    {user[name] += ($3 - $1) / hz; sys[name] += ($4 - $2) / hz}
    END {
        printf "\nserver CPU per message over %d messages (all phases; user + system):\n", msgs
        for (n in user) if (user[n] + sys[n] > 0)
            printf "  %-6s %7.2f s  %6.2f us/msg  (%.2f + %.2f)\n", n, user[n] + sys[n],
                (user[n] + sys[n]) * 1e6 / msgs, user[n] * 1e6 / msgs, sys[n] * 1e6 / msgs
    }'
