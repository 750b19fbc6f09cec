#!/usr/bin/env bash
# The match service in its production shape, as one foreground unit (what `make serve` runs):
#
#   clients ──► nginx on HOST:PORT ──► gunicorn, 2 sync workers, on a unix socket ──► the Flask app
#
# nginx reads each request whole (headers and body) before gunicorn sees it and takes gunicorn's
# answer whole before it writes it out, so idle or slow clients cost nginx a few KB each and never
# hold a sync worker (see README.md, "Production serving", and BENCHMARKS.md for the numbers).
#
# Everything runs from a private folder made for this run (the nginx config rendered from
# ml_model/serve/nginx.conf.template, gunicorn's socket, control socket and Prometheus metrics
# folder, nginx's pid and temporary files); nothing outside it is written, so it runs as root or as any user, and several copies run side by side on
# different ports. It waits until /health answers through nginx and prints "ready". SIGINT or
# SIGTERM stops both and removes the folder (exit 130 / 143); if either dies, the other is stopped
# and the script exits 1.
#
# Usage: scripts/serve.sh [--host 127.0.0.1] [--port 8000]
# Environment: GUNICORN (default .venv/bin/gunicorn), NGINX (default: nginx on PATH or
#   /usr/sbin/nginx), WAIT_SECONDS (60), plus the service's own MODEL_DIR and PREDICTION_LOG.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TEMPLATE="$ROOT/ml_model/serve/nginx.conf.template"
APP='ml_model.predict_model:create_app()'
WORKERS=2
HOST=127.0.0.1
PORT=8000
WAIT_SECONDS="${WAIT_SECONDS:-60}"
STOP_SECONDS=10

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
NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
[ -x "$GUNICORN" ] || die "no gunicorn at $GUNICORN (make install)"
[ -x "$NGINX" ] || die "no nginx at $NGINX (make nginx, or: apt-get install nginx)"
[ -f "$TEMPLATE" ] || die "$TEMPLATE is missing"
command -v curl >/dev/null || die "curl is not installed"
command -v setsid >/dev/null || die "setsid (util-linux) is not installed"

# Something on the port already (another copy, say) would answer our readiness check: refuse.
if (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; then
  die "something already listens on $HOST:$PORT (choose another PORT)"
fi

# --- the run folder ------------------------------------------------------------------------------
# As root, nginx's workers drop to an unprivileged user, which must be able to enter the folder (to
# reach the socket and its temporary files): the folder then belongs to that user's group, mode
# 0710, in a parent everyone may enter. A unix socket's path is limited to 107 bytes.
others_can_enter() {
  local d=$1
  while [ "$d" != / ]; do
    (( 0$(stat -c %a "$d") & 1 )) || return 1
    d=$(dirname "$d")
  done
}
base="${TMPDIR:-/tmp}"
base="${base%/}"
if [ -z "$base" ] || [ ! -d "$base" ] || [ ! -w "$base" ] || [ "${#base}" -gt 60 ] \
  || [[ ! "$base" =~ ^/[A-Za-z0-9._/-]*$ ]] || { [ "$(id -u)" = 0 ] && ! others_can_enter "$base"; }; then
  base=/tmp
fi
RUN_DIR="$(mktemp -d "$base/legalaid-serve.XXXXXX")"
USER_LINE=""
if [ "$(id -u)" = 0 ]; then
  nginx_user=www-data
  id "$nginx_user" >/dev/null 2>&1 || nginx_user=nobody
  nginx_group="$(id -gn "$nginx_user")"
  chgrp "$nginx_group" "$RUN_DIR"
  chmod 0710 "$RUN_DIR"
  USER_LINE="user $nginx_user $nginx_group;"
fi

G_PID=""
N_PID=""
stopping=0
# Stop one process group: the signal to its leader, then wait; what is left after STOP_SECONDS
# (or the workers of a leader that was killed) gets SIGKILL.
stop_group() { # pid signal
  local pid=$1 sig=$2 i
  [ -n "$pid" ] || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_SECONDS * 10; i++)); do
    kill -0 -- "-$pid" 2>/dev/null || return 0
    kill -0 "$pid" 2>/dev/null || kill -TERM -- "-$pid" 2>/dev/null || true  # leader gone: its workers
    sleep 0.1
  done
  log "pid $pid did not stop within ${STOP_SECONDS}s: killing its group"
  kill -KILL -- "-$pid" 2>/dev/null || true
}
# The stop, for a signal (the exit code says which) and for every other exit. make passes its own
# SIGTERM on to us right after the group's, so the first thing is to ignore further signals; one
# that comes in before that runs a whole stop of its own, which exits.
cleanup() {
  local status=${1:-$?}
  trap '' INT TERM
  [ "$stopping" = 1 ] && return 0
  stopping=1
  trap - EXIT
  # nginx first (QUIT: it stops accepting, finishes the requests in flight), then gunicorn.
  stop_group "$N_PID" QUIT
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
LISTEN="$HOST:$PORT"
[[ "$HOST" == *:* ]] && URL="http://[$HOST]:$PORT" && LISTEN="[$HOST]:$PORT"
sed -e "s|@RUN_DIR@|$RUN_DIR|g" -e "s|@LISTEN@|$LISTEN|g" -e "s|@USER_LINE@|$USER_LINE|g" \
  "$TEMPLATE" >"$RUN_DIR/nginx.conf"

wait_for() { # name pid curl-args...
  local name=$1 pid=$2 deadline=$((SECONDS + WAIT_SECONDS))
  shift 2
  until curl -fsS -o /dev/null --max-time 2 "$@" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || die "$name exited before /health answered"
    [ "$SECONDS" -lt "$deadline" ] || die "$name: /health did not answer within ${WAIT_SECONDS}s"
    sleep 0.1
  done
}

# Each in a process group of its own (its pid is the group id): a Ctrl-C at the terminal reaches
# only this script, whose trap then stops both in order.
# gunicorn's settings (ml_model/gunicorn_conf.py: the Prometheus multiprocess hooks) with its
# metrics folder in the run folder, so it goes with it even when gunicorn is killed; the command
# line sets the socket, the worker count and the control socket (gunicorn's default for that is
# ~/.gunicorn/gunicorn.ctl, shared by every copy).
SOCK="$RUN_DIR/gunicorn.sock"
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$RUN_DIR/metrics}"
(cd "$ROOT" && PYTHONDONTWRITEBYTECODE=1 exec setsid "$GUNICORN" -c python:ml_model.gunicorn_conf \
  -w "$WORKERS" -b "unix:$SOCK" --control-socket "$RUN_DIR/gunicorn.ctl" "$APP") &
G_PID=$!
wait_for gunicorn "$G_PID" --unix-socket "$SOCK" http://localhost/health

setsid "$NGINX" -p "$RUN_DIR/" -c "$RUN_DIR/nginx.conf" -e stderr &
N_PID=$!
wait_for nginx "$N_PID" "$URL/health"
log "ready: $URL (nginx pid $N_PID, gunicorn pid $G_PID with $WORKERS sync workers on $SOCK)"

# Run until a signal arrives (the traps) or one of the two exits (then stop the other).
status=0
wait -n "$G_PID" "$N_PID" || status=$?
if kill -0 "$G_PID" 2>/dev/null; then name=nginx; else name=gunicorn; fi
die "$name exited (status $status); stopping"
