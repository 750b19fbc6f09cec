#!/usr/bin/env bash
# The "Future Scaling (Cloud)" stack on one machine, bound to 127.0.0.1 only:
#   Ceph radosgw (S3, one mon + one memstore OSD)  ->  DVC remote and MLflow artifact store
#   PostgreSQL 15                                   ->  MLflow backend store (runs, registry, accounts)
#   mlflow server --app-name basic-auth            ->  MLFLOW_TRACKING_URI, one account per role
#
#   mlops/infra/stack.sh up        start what is not running (creates state and accounts on first use)
#   mlops/infra/stack.sh env [ACCOUNT]   export lines for the sidecar and DVC, with the MLflow
#                                  credentials of ACCOUNT: reader (default), ci, promoter
#   mlops/infra/stack.sh adduser NAME ROLE   one more MLflow account (ROLE: promoter, ci, reader)
#   mlops/infra/stack.sh rotate ACCOUNT      a new password for an account (server and state)
#   mlops/infra/stack.sh status    one line per component
#   mlops/infra/stack.sh down      stop everything it started; no process, no listening port
#   mlops/infra/stack.sh purge     down, then delete the state (database, objects, keys, accounts)
#
# Settings (environment; read on the first `up` and then fixed in STATE/config.env):
#   STACK_STATE_DIR   (mlops/infra/.state)   all state, keys, accounts and logs
#   STACK_MLFLOW_PORT (5001)  STACK_S3_PORT (7480)  STACK_PG_PORT (5433)  STACK_MON_PORT (3300)
#   STACK_BUCKET      (legalaid)
#   STACK_ALLOWED_HOSTS (unset: MLflow's defaults)  passed to `mlflow server --allowed-hosts`
#                                                   at each start; the list REPLACES the defaults
#   STACK_PYTHON      (.venv/bin/python of this repository)
# See mlops/infra/README.md.
#
# (Lines 2-23 above are also the usage text.) This file is the entry point: settings, secrets, the
# process helpers every service shares, and the commands. Each service starts and stops in its own
# file under stack/ (ceph.sh, postgres.sh, mlflow.sh), so one daemon's set-up reads on its own.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
STATE=${STACK_STATE_DIR:-$HERE/.state}
HOST=127.0.0.1
HELP=$HERE/stack_helpers.py
DVC_REMOTE_NAME=s3remote

log() { printf '[stack] %s\n' "$*" >&2; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Configuration and secrets: ports and bucket are fixed at the first `up` (config.env), so a later
# call with other variables cannot point the clients at a stack that is not there.
# ---------------------------------------------------------------------------------------------
load_config() {
    if [[ -f $STATE/config.env ]]; then
        # shellcheck disable=SC1091
        source "$STATE/config.env"
        local v want
        for v in MLFLOW_PORT S3_PORT PG_PORT MON_PORT BUCKET; do
            want=STACK_$v
            if [[ -n ${!want:-} && ${!want} != "${!v}" ]]; then
                log "warning: $want=${!want} ignored: this state was created with $v=${!v} ($STATE/config.env; purge to change)"
            fi
        done
    else
        MLFLOW_PORT=${STACK_MLFLOW_PORT:-5001}
        S3_PORT=${STACK_S3_PORT:-7480}
        PG_PORT=${STACK_PG_PORT:-5433}
        MON_PORT=${STACK_MON_PORT:-3300}
        BUCKET=${STACK_BUCKET:-legalaid}
    fi
    PY=${STACK_PYTHON:-$REPO/.venv/bin/python}
    [[ -x $PY ]] || PY=$(command -v python3)
    MLFLOW_BIN=$(dirname "$PY")/mlflow
    PG_BIN=${PG_BIN:-}
    if [[ -z $PG_BIN ]]; then
        for v in 15 16 17; do [[ -x /usr/lib/postgresql/$v/bin/pg_ctl ]] && { PG_BIN=/usr/lib/postgresql/$v/bin; break; }; done
    fi
    CEPH_CONF=$STATE/ceph/ceph.conf
    RUN=$STATE/run
    LOGS=$STATE/logs
}

save_config() {
    mkdir -p "$STATE"
    [[ -f $STATE/config.env ]] && return 0
    cat >"$STATE/config.env" <<EOF
# Written by stack.sh on the first \`up\`; ports and bucket are fixed from then on (purge to change).
MLFLOW_PORT=$MLFLOW_PORT
S3_PORT=$S3_PORT
PG_PORT=$PG_PORT
MON_PORT=$MON_PORT
BUCKET=$BUCKET
EOF
}

ensure_secrets() {
    if [[ ! -f $STATE/secrets.env ]]; then
        umask 077
        {
            echo "# Generated locally by stack.sh; never commit. Mode 0600."
            echo "S3_ACCESS_KEY=$("$PY" "$HELP" secret 20 upper)"
            echo "S3_SECRET_KEY=$("$PY" "$HELP" secret 40)"
            echo "PG_PASSWORD=$("$PY" "$HELP" secret 32)"
        } >"$STATE/secrets.env.tmp"
        mv "$STATE/secrets.env.tmp" "$STATE/secrets.env"
        umask 022
    fi
    # shellcheck disable=SC1091
    source "$STATE/secrets.env"
}

# ---------------------------------------------------------------------------------------------
# Processes: every daemon runs in the foreground under setsid (its own process group), its pid in
# RUN/<name>.pid, so `down` can stop the whole group.
# ---------------------------------------------------------------------------------------------
pid_of() { if [[ -f $RUN/$1.pid ]]; then cat "$RUN/$1.pid" || true; fi; }

alive() {  # alive NAME BINARY-SUBSTRING
    local pid; pid=$(pid_of "$1")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2"
}

spawn() {  # spawn NAME COMMAND...   (environment already exported by the caller)
    local name=$1; shift
    mkdir -p "$RUN" "$LOGS"
    setsid "$@" </dev/null >>"$LOGS/$name.out" 2>&1 &
    echo $! >"$RUN/$name.pid"
}

stop_group() {  # stop_group NAME BINARY-SUBSTRING [GRACE-SECONDS]
    local name=$1 bin=$2 grace=${3:-20} pid i
    pid=$(pid_of "$name")
    [[ -n $pid ]] || return 0
    # Only a process this stack started: the pid file's process must still be that program
    # (after a reboot the number may belong to something else).
    if alive "$name" "$bin"; then
        log "stopping $name (process group $pid)"
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < grace * 5; i++)); do
            kill -0 -- "-$pid" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 -- "-$pid" 2>/dev/null; then
            log "$name did not stop in ${grace}s: SIGKILL"
            kill -KILL -- "-$pid" 2>/dev/null || true
            sleep 0.5
        fi
    fi
    rm -f "$RUN/$name.pid"
}

need_port_free() {  # need_port_free PORT WHAT
    "$PY" "$HELP" port-free "$HOST" "$1" || die "port $1 ($2) is already taken on $HOST by something this stack did not start; set another port (see the header of $0) or stop it"
}

render() {  # render TEMPLATE KEY=VALUE...: the template on stdout, each @KEY@ replaced by VALUE
    local template=$1 text pair; shift
    text=$(<"$template")
    for pair; do text=${text//"@${pair%%=*}@"/"${pair#*=}"}; done
    if [[ $text =~ @[A-Z_]+@ ]]; then die "$template: no value given for ${BASH_REMATCH[0]}"; fi
    printf '%s\n' "$text"
}

# shellcheck source=stack/ceph.sh
source "$HERE/stack/ceph.sh"
# shellcheck source=stack/postgres.sh
source "$HERE/stack/postgres.sh"
# shellcheck source=stack/mlflow.sh
source "$HERE/stack/mlflow.sh"

# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------
cmd_up() {
    load_config
    mkdir -p "$STATE"
    chmod 700 "$STATE"
    save_config
    mkdir -p "$RUN" "$LOGS"
    ensure_secrets
    start_ceph
    start_pg
    start_mlflow
    log "stack up; state in $STATE. Use: eval \"\$($0 env)\""
}

cmd_down() {
    load_config
    [[ -d $STATE ]] || { log "no state at $STATE: nothing to stop"; return 0; }
    stop_mlflow
    stop_pg
    stop_ceph
    local port busy=0
    for port in "$MLFLOW_PORT" "$S3_PORT" "$PG_PORT" "$MON_PORT"; do
        if ! "$PY" "$HELP" port-free "$HOST" "$port"; then log "port $port still answers"; busy=1; fi
    done
    (( busy == 0 )) || die "something still listens on a stack port"
    log "stack down"
}

cmd_purge() {
    cmd_down
    load_config
    purge_pg
    rm -rf "$STATE"
    log "state removed"
}

cmd_env() {  # cmd_env [ACCOUNT]: the password only here, on stdout, for `eval`; never in a log
    local who=${1:-reader} password
    load_config
    [[ -f $STATE/secrets.env && -f $(auth_dir)/accounts ]] || die "no stack state at $STATE: run '$0 up' first"
    password=$(account_password "$who") || die "no MLflow account $who in $(auth_dir)/accounts"
    [[ $who != "$AUTH_ADMIN" ]] || log "warning: $AUTH_ADMIN is for account set-up only; use reader, ci or promoter"
    # shellcheck disable=SC1091
    source "$STATE/secrets.env"
    cat <<EOF
# MLflow account: $who
export MLFLOW_TRACKING_URI=http://$HOST:$MLFLOW_PORT
export MLFLOW_TRACKING_USERNAME=$who
export MLFLOW_TRACKING_PASSWORD=$password
export MLFLOW_S3_ENDPOINT_URL=http://$HOST:$S3_PORT
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
export DVC_REMOTE=$DVC_REMOTE_NAME
unset MLFLOW_TRACKING_TOKEN AWS_SESSION_TOKEN AWS_PROFILE
EOF
    if [[ $S3_PORT != 7480 || $BUCKET != legalaid ]]; then
        echo "# .dvc/config points $DVC_REMOTE_NAME at s3://legalaid/dvcstore on 127.0.0.1:7480; for this stack run:"
        echo "#   dvc remote modify --local $DVC_REMOTE_NAME endpointurl http://$HOST:$S3_PORT"
        echo "#   dvc remote modify --local $DVC_REMOTE_NAME url s3://$BUCKET/dvcstore"
    fi
}

cmd_account() {  # cmd_account add NAME ROLE | rotate NAME
    load_config
    [[ -d $STATE ]] || die "no stack state at $STATE: run '$0 up' first"
    mlflow_account "$@"
}

cmd_status() {
    load_config
    [[ -d $STATE ]] || { echo "no state at $STATE"; return 0; }
    local n
    for n in mon:ceph-mon osd:ceph-osd rgw:radosgw mlflow:mlflow; do
        if alive "${n%%:*}" "${n#*:}"; then echo "${n%%:*} running (pid $(pid_of "${n%%:*}"))"; else echo "${n%%:*} stopped"; fi
    done
    pg_status
}

usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

case ${1:-} in
    up) cmd_up ;;
    down) cmd_down ;;
    env) cmd_env "${@:2}" ;;
    adduser) (( $# == 3 )) || usage; cmd_account add "$2" "$3" ;;
    rotate) (( $# == 2 )) || usage; cmd_account rotate "$2" ;;
    status) cmd_status ;;
    purge) cmd_purge ;;
    *) usage ;;
esac
