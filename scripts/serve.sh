#!/usr/bin/env bash
# The match service in its production shape, as one foreground unit (what `make serve` runs):
#
#   clients ──► gunicorn on HOST:PORT, 2 gevent workers (ml_model/gunicorn_conf.py) ──► the Flask app
#
# Each connection is a greenlet in a worker, so idle or slow clients cost a few KB each and never
# hold a worker (see README.md, "Production serving", and BENCHMARKS.md for the numbers).
#
# gunicorn's control socket and its Prometheus metrics folder go into a private folder made for
# this run; nothing outside it is written, so several copies run side by side on different ports.
# It waits until /health answers and prints "ready". SIGINT or SIGTERM stops gunicorn and removes
# the folder (exit 130 / 143); if gunicorn dies, the script exits 1.
#
# Usage: scripts/serve.sh [--host 127.0.0.1] [--port 8000]
# Environment: GUNICORN (default .venv/bin/gunicorn), WAIT_SECONDS (60), plus the service's own
#   MODEL_DIR and PREDICTION_LOG.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APP='ml_model.predict_model:create_app()'
HOST=127.0.0.1
PORT=8000
WAIT_SECONDS="${WAIT_SECONDS:-60}"
STOP_SECONDS=15  # gunicorn's graceful timeout (10 s, ml_model/gunicorn_conf.py) and a margin

log() { printf '[serve] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --host) HOST="${2:?--host needs a value}"; shift 2 ;;
    --port) PORT="${2:?--port needs a value}"; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] || die "PORT must be 1-65535, not '$PORT'"
[[ "$HOST" =~ ^[0-9A-Za-z.:-]+$ ]] || die "HOST must be an address, not '$HOST'"

GUNICORN="${GUNICORN:-$ROOT/.venv/bin/gunicorn}"
[ -x "$GUNICORN" ] || die "no gunicorn at $GUNICORN (make install)"
command -v curl >/dev/null || die "curl is not installed"
command -v setsid >/dev/null || die "setsid (util-linux) is not installed"

# Something on the port already (another copy, say) would answer our readiness check: refuse.
if (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; then
  die "something already listens on $HOST:$PORT (choose another PORT)"
fi

# The run folder: gunicorn's control socket (its default, ~/.gunicorn/gunicorn.ctl, is shared by
# every copy) and the Prometheus metrics folder, so both go with the run even when gunicorn is
# killed. A unix socket's path is limited to 107 bytes.
base="${TMPDIR:-/tmp}"
base="${base%/}"
if [[ ! "$base" =~ ^/[A-Za-z0-9._/-]*$ ]] || [ ! -d "$base" ] || [ ! -w "$base" ] || [ "${#base}" -gt 60 ]; then
  base=/tmp
fi
RUN_DIR="$(mktemp -d "$base/legalaid-serve.XXXXXX")"

G_PID=""
stopping=0
# Stop gunicorn's process group: the signal to its master, then wait; what is left after
# STOP_SECONDS (or the workers of a master that was killed) gets SIGKILL.
stop_group() { # pid signal
  local pid=$1 sig=$2 i
  [ -n "$pid" ] || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_SECONDS * 10; i++)); do
    kill -0 -- "-$pid" 2>/dev/null || return 0
    kill -0 "$pid" 2>/dev/null || kill -TERM -- "-$pid" 2>/dev/null || true  # master gone: its workers
    sleep 0.1
  done
  log "pid $pid did not stop within ${STOP_SECONDS}s: killing its group"
  kill -KILL -- "-$pid" 2>/dev/null || true
}
# The stop, for a signal (the exit code says which) and for every other exit. make passes its own
# SIGTERM on to us right after the group's, so the first thing is to ignore further signals.
cleanup() {
  local status=${1:-$?}
  trap '' INT TERM
  [ "$stopping" = 1 ] && return 0
  stopping=1
  trap - EXIT
  stop_group "$G_PID" TERM
  wait 2>/dev/null || true
  rm -rf "$RUN_DIR"
  log "stopped"
  exit "$status"
}
trap 'cleanup 130' INT
trap 'cleanup 143' TERM
trap cleanup EXIT

URL="http://$HOST:$PORT"
BIND="$HOST:$PORT"
[[ "$HOST" == *:* ]] && URL="http://[$HOST]:$PORT" && BIND="[$HOST]:$PORT"

# In a process group of its own (its pid is the group id): a Ctrl-C at the terminal reaches only
# this script, whose trap then stops gunicorn (TERM: it finishes the requests in flight).
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$RUN_DIR/metrics}"
(cd "$ROOT" && PYTHONDONTWRITEBYTECODE=1 exec setsid "$GUNICORN" -c python:ml_model.gunicorn_conf \
  -b "$BIND" --control-socket "$RUN_DIR/gunicorn.ctl" "$APP") &
G_PID=$!
deadline=$((SECONDS + WAIT_SECONDS))
until curl -fsS -o /dev/null --max-time 2 "$URL/health" 2>/dev/null; do
  kill -0 "$G_PID" 2>/dev/null || die "gunicorn exited before /health answered"
  [ "$SECONDS" -lt "$deadline" ] || die "/health did not answer within ${WAIT_SECONDS}s"
  sleep 0.1
done
log "ready: $URL (gunicorn pid $G_PID with gevent workers; run folder $RUN_DIR)"

# Run until a signal arrives (the traps) or gunicorn exits.
status=0
wait "$G_PID" || status=$?
die "gunicorn exited (status $status); stopping"
