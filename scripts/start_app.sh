#!/usr/bin/env bash
# Start LegalAid Connect on this machine: the ML match service, the backend API and the web page
# (served by the backend), wait until each answers, and print the address. Ctrl-C or SIGTERM
# stops all of them, and everything they started (nothing is left listening).
#
# Ports (environment; `make app` passes them on):
#   PORT       the backend, its API (/api/*, described at /api/openapi.json) and the page   default 5000
#   ML_PORT    the match service (/predict, /rank; its API page at /docs)                   default 8000
#   HOST, ML_HOST   the addresses they bind                                                 default 127.0.0.1
# e.g. `PORT=19050 ML_PORT=19051 make app` beside another copy. A port already in use is refused.
#
# Other settings:
#   PYTHON              Python with the service's requirements (default .venv/bin/python)
#   WAIT_SECONDS        how long each service may take to answer (default 60)
#   DB_PATH, ML_TIMEOUT_MS, PREDICTION_LOG, MODEL_DIR   passed through to the backend / service
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APP_HOST="${HOST:-127.0.0.1}"
APP_PORT="${PORT:-5000}"
ML_HOST="${ML_HOST:-127.0.0.1}"
ML_PORT="${ML_PORT:-8000}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
ML_URL="http://$ML_HOST:$ML_PORT"
APP_URL="http://$APP_HOST:$APP_PORT"
WAIT_SECONDS="${WAIT_SECONDS:-60}"

log() { printf '[start_app] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

for setting in "PORT=$APP_PORT" "ML_PORT=$ML_PORT"; do
  value="${setting#*=}"
  [[ "$value" =~ ^[0-9]{1,5}$ ]] && [ "$value" -ge 1 ] && [ "$value" -le 65535 ] \
    || die "${setting%%=*} must be a port number from 1 to 65535, not '$value'"
done
[ "$APP_PORT" != "$ML_PORT" ] || [ "$APP_HOST" != "$ML_HOST" ] || die "PORT and ML_PORT are both $APP_PORT: give them different ports"

command -v node >/dev/null || die "node (20) is not installed"
[ -x "$PYTHON" ] || die "no Python at $PYTHON (create the venv: python3 -m venv .venv && .venv/bin/pip install -r ml_model/requirements.txt)"
[ -f "$ROOT/ml_model/predict_model.py" ] || die "ml_model/predict_model.py is missing"

answers() { curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; }
listening() { curl -sS -o /dev/null --max-time 2 "$1" 2>/dev/null; }  # any HTTP answer at all
listening "$ML_URL/" && die "something already listens on $ML_URL (set ML_PORT)"
listening "$APP_URL/" && die "something already listens on $APP_URL (set PORT)"

if [ ! -d "$ROOT/backend/node_modules" ]; then
  log "installing the backend's packages (npm ci)"
  (cd "$ROOT/backend" && npm ci --no-audit --no-fund) >&2
fi

# Each service runs under setsid in a process group of its own (its pid is the group id): a
# Ctrl-C at the terminal reaches only this script, whose trap then stops each group whole.
command -v setsid >/dev/null || die "setsid (util-linux) is not installed"
PIDS=()
stopping=0
cleanup() {
  local status=$?
  [ "$stopping" = 1 ] && return
  stopping=1
  # make passes its own SIGTERM (or SIGINT) on right after the group's: ignore further signals, or
  # the second one would end this script before it has stopped and waited for the services.
  trap '' INT TERM
  trap - EXIT
  if [ "${#PIDS[@]}" -gt 0 ]; then
    log "stopping (pids ${PIDS[*]})"
    for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    for _ in $(seq 200); do  # 20 s: scripts/serve.sh may take 15 s to stop gunicorn gracefully
      local alive=0
      for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
      [ "$alive" = 0 ] && break
      sleep 0.1
    done
    for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  fi
  log "stopped"
  exit "$status"
}
# The first signal's handler ignores further ones before anything else: make passes the group's
# SIGINT on a second time, and under load that one arrived while `exit` was still on its way to the
# EXIT trap, ending the script with the services still running.
on_signal() {
  trap '' INT TERM
  exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap cleanup EXIT

wait_for() { # name url pid
  local name=$1 url=$2 pid=$3 deadline=$((SECONDS + WAIT_SECONDS))
  until answers "$url"; do
    kill -0 "$pid" 2>/dev/null || die "$name exited before answering at $url"
    [ "$SECONDS" -lt "$deadline" ] || die "$name did not answer at $url within ${WAIT_SECONDS}s"
    sleep 0.2
  done
  log "$name answers at $url"
}

log "starting the match service on $ML_URL"
# As in production (`make serve`): gunicorn with 2 gevent workers, run and
# stopped by scripts/serve.sh; the development server is ml_model/predict_model.py.
GUNICORN="$(dirname "$PYTHON")/gunicorn"
[ -x "$GUNICORN" ] || die "no gunicorn beside $PYTHON (make install)"
(cd "$ROOT" && GUNICORN="$GUNICORN" exec setsid scripts/serve.sh --host "$ML_HOST" --port "$ML_PORT") &
PIDS+=($!)
ML_PID=$!
wait_for "match service" "$ML_URL/health" "$ML_PID"

log "starting the backend and page on $APP_URL"
(cd "$ROOT/backend" && HOST="$APP_HOST" PORT="$APP_PORT" ML_SERVICE_URL="$ML_URL" exec setsid node server.js) &
PIDS+=($!)
APP_PID=$!
wait_for "backend" "$APP_URL/api/health" "$APP_PID"
wait_for "web page" "$APP_URL/" "$APP_PID"

printf '\nLegalAid Connect is running: %s\n(its API: %s/api/openapi.json; match service %s, API page %s/docs; Ctrl-C to stop)\n\n' \
  "$APP_URL" "$APP_URL" "$ML_URL" "$ML_URL"

# Run until a signal arrives or one of the services dies (then stop the other).
while kill -0 "$ML_PID" 2>/dev/null && kill -0 "$APP_PID" 2>/dev/null; do
  wait -n 2>/dev/null || true
done
die "a service stopped unexpectedly"
