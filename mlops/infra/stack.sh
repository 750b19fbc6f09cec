#!/usr/bin/env bash
# The "Future Scaling (Cloud)" stack on one machine, bound to 127.0.0.1 only:
#   Ceph radosgw (S3, one mon + one memstore OSD)  ->  DVC remote and MLflow artifact store
#   PostgreSQL 15                                   ->  MLflow backend store (runs, registry)
#   mlflow server                                   ->  MLFLOW_TRACKING_URI
#
#   mlops/infra/stack.sh up        start what is not running (creates state on first use)
#   mlops/infra/stack.sh env       print the export lines for the sidecar and DVC
#   mlops/infra/stack.sh status    one line per component
#   mlops/infra/stack.sh down      stop everything it started; no process, no listening port
#   mlops/infra/stack.sh purge     down, then delete the state (database, objects, keys)
#
# Settings (environment; read on the first `up` and then fixed in STATE/config.env):
#   STACK_STATE_DIR   (mlops/infra/.state)   all state, keys and logs
#   STACK_MLFLOW_PORT (5001)  STACK_S3_PORT (7480)  STACK_PG_PORT (5433)  STACK_MON_PORT (3300)
#   STACK_BUCKET      (legalaid)
#   STACK_ALLOWED_HOSTS (unset: MLflow's defaults)  passed to `mlflow server --allowed-hosts`
#                                                   at each start; the list REPLACES the defaults
#   STACK_PYTHON      (.venv/bin/python of this repository)
# See mlops/infra/README.md.
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
# Configuration and secrets
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
pid_of() { [[ -f $RUN/$1.pid ]] && cat "$RUN/$1.pid" || true; }

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

as_pg() {  # run a PostgreSQL binary as the postgres user when we are root (it refuses root)
    if [[ $EUID -eq 0 ]]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# ---------------------------------------------------------------------------------------------
# Ceph: one monitor, one memstore OSD, radosgw. cephx keyrings (auth "none" makes radosgw hang).
# ---------------------------------------------------------------------------------------------
ceph_cli() { timeout 60 ceph -c "$CEPH_CONF" --connect-timeout 10 "$@"; }

ceph_init() {
    [[ -f $STATE/ceph/.initialised ]] && return 0
    command -v ceph-mon >/dev/null || die "ceph-mon is not installed: run mlops/infra/install_deps.sh"
    local c=$STATE/ceph fsid
    rm -rf "$c"
    mkdir -p "$c/mon" "$c/osd" "$c/keyring" "$RUN" "$LOGS"
    fsid=$(cat /proc/sys/kernel/random/uuid)
    cat >"$CEPH_CONF" <<EOF
# Written by stack.sh: a one-node Ceph cluster on 127.0.0.1 for S3 only (no mgr, no replication).
[global]
fsid = $fsid
mon host = [v2:$HOST:$MON_PORT]
public addr = $HOST
cluster addr = $HOST
ms bind ipv6 = false
ms bind msgr1 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
run dir = $RUN
log file = $LOGS/ceph-\$name.log
mon data = $c/mon/\$cluster-\$id
osd data = $c/osd/\$cluster-\$id
# RAM-only object store: saved to osd data on a clean stop (SIGTERM, with fast shutdown off),
# lost on a crash or kill -9.
osd objectstore = memstore
osd fast shutdown = false
memstore device bytes = 4294967296
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
osd op num shards = 2
mon allow pool size one = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon data avail warn = 5
mon data avail crit = 1
auth allow insecure global id reclaim = false
[mon]
admin socket = $RUN/\$cluster-\$name.asok
[osd]
admin socket = $RUN/\$cluster-\$name.asok
[client.admin]
keyring = $c/keyring/admin.keyring
admin socket =
[client.rgw.a]
keyring = $c/keyring/rgw.keyring
admin socket = $RUN/\$cluster-\$name.asok
rgw frontends = beast endpoint=$HOST:$S3_PORT
rgw thread pool size = 32
rgw enable usage log = false
log file = $LOGS/radosgw.log
EOF
    ceph-authtool --create-keyring "$c/keyring/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
    ceph-authtool --create-keyring "$c/keyring/admin.keyring" --gen-key -n client.admin \
        --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
    ceph-authtool "$c/keyring/mon.keyring" --import-keyring "$c/keyring/admin.keyring" >/dev/null
    monmaptool --create --addv a "[v2:$HOST:$MON_PORT]" --fsid "$fsid" "$c/monmap" >/dev/null
    ceph-mon -c "$CEPH_CONF" --mkfs -i a --monmap "$c/monmap" --keyring "$c/keyring/mon.keyring" \
        >>"$LOGS/ceph-mkfs.out" 2>&1
    chmod 600 "$c"/keyring/*
    touch "$c/.initialised"
}

start_mon() {
    if alive mon ceph-mon; then log "ceph-mon already running"; return 0; fi
    need_port_free "$MON_PORT" "ceph-mon"
    local t0=$EPOCHREALTIME
    spawn mon ceph-mon -f -c "$CEPH_CONF" -i a
    for _ in $(seq 100); do
        ceph_cli mon stat >/dev/null 2>&1 && { log "ceph-mon up on $HOST:$MON_PORT ($(since "$t0") s)"; return 0; }
        alive mon ceph-mon || break
        sleep 0.3
    done
    die "ceph-mon did not come up; see $LOGS/mon.out and $LOGS/ceph-mon.a.log"
}

start_osd() {
    local c=$STATE/ceph id uuid dir
    if [[ ! -f $c/osd.id ]]; then
        uuid=$(cat /proc/sys/kernel/random/uuid)
        id=$(ceph_cli osd new "$uuid" 2>/dev/null)
        dir=$c/osd/ceph-$id
        mkdir -p "$dir"
        ceph-authtool --create-keyring "$dir/keyring" --gen-key -n "osd.$id" >/dev/null
        ceph_cli auth add "osd.$id" osd 'allow *' mon 'allow profile osd' -i "$dir/keyring" >/dev/null 2>&1
        ceph-osd -c "$CEPH_CONF" -i "$id" --mkfs --osd-uuid "$uuid" >>"$LOGS/ceph-mkfs.out" 2>&1
        echo "$id" >"$c/osd.id"
    fi
    id=$(cat "$c/osd.id")
    if alive osd ceph-osd; then log "ceph-osd already running"; return 0; fi
    local t0=$EPOCHREALTIME
    spawn osd ceph-osd -f -c "$CEPH_CONF" -i "$id"
    local up=0
    for _ in $(seq 150); do
        ceph_cli osd stat 2>/dev/null | grep -q '1 up' && { up=1; break; }
        alive osd ceph-osd || break
        sleep 0.3
    done
    (( up )) || die "ceph-osd did not come up; see $LOGS/osd.out and $LOGS/ceph-osd.$id.log"
    # The pools must answer again: memstore keeps objects in RAM and writes them to disk only on a
    # clean stop, so after a crash or kill -9 the pools are gone for good. (`ceph pg stat` needs a
    # mgr, which this stack does not run; a read with a timeout tells the same.)
    if ceph_cli osd pool ls 2>/dev/null | grep -qx '.rgw.root'; then
        if ! timeout 60 rados -c "$CEPH_CONF" -n client.admin --rados-osd-op-timeout 30 -p .rgw.root ls >/dev/null 2>&1; then
            die "ceph-osd.$id is up but its pools do not answer: the RAM object store lost its data (the OSD was not stopped cleanly). Run '$0 purge' and '$0 up' to start afresh."
        fi
    fi
    log "ceph-osd.$id up ($(since "$t0") s)"
}

start_rgw() {
    local c=$STATE/ceph
    if [[ ! -f $c/keyring/rgw.keyring ]]; then
        ceph_cli auth get-or-create client.rgw.a mon 'allow rw' osd 'allow rwx' \
            -o "$c/keyring/rgw.keyring.tmp" >/dev/null 2>&1
        chmod 600 "$c/keyring/rgw.keyring.tmp"
        mv "$c/keyring/rgw.keyring.tmp" "$c/keyring/rgw.keyring"
    fi
    if alive rgw radosgw; then
        log "radosgw already running"
    else
        need_port_free "$S3_PORT" "radosgw"
        local t0=$EPOCHREALTIME
        spawn rgw radosgw -f -c "$CEPH_CONF" -n client.rgw.a
        "$PY" "$HELP" wait-http "http://$HOST:$S3_PORT/" 120 \
            || die "radosgw did not answer on $HOST:$S3_PORT; see $LOGS/rgw.out and $LOGS/radosgw.log"
        log "radosgw up on http://$HOST:$S3_PORT ($(since "$t0") s)"
    fi
    if ! timeout 60 radosgw-admin -c "$CEPH_CONF" -n client.admin user info --uid=legalaid >/dev/null 2>&1; then
        timeout 60 radosgw-admin -c "$CEPH_CONF" -n client.admin user create --uid=legalaid \
            --display-name="LegalAid Connect MLOps" --access-key="$S3_ACCESS_KEY" --secret="$S3_SECRET_KEY" \
            >/dev/null 2>>"$LOGS/radosgw-admin.out" || die "radosgw-admin user create failed; see $LOGS/radosgw-admin.out"
        log "S3 user legalaid created"
    fi
    AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY \
        "$PY" "$HELP" ensure-bucket "http://$HOST:$S3_PORT" "$BUCKET" 60 >&2
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL: its own cluster in a folder the postgres user can enter; socket in the data folder;
# local socket = trust (for set-up), TCP = scram-sha-256 (the mlflow role has a password).
# ---------------------------------------------------------------------------------------------
pg_dirs() {
    if [[ -f $STATE/pg.path ]]; then PGDATA_DIR=$(cat "$STATE/pg.path"); return 0; fi
    local want=$STATE/pg
    mkdir -p "$want"
    if [[ $EUID -eq 0 ]]; then
        chown postgres: "$want"
        chmod 700 "$want"
        if ! runuser -u postgres -- test -w "$want" 2>/dev/null || (( ${#want} > 90 )); then
            # a parent folder is closed to the postgres user (e.g. a 0700 mktemp folder), or the
            # socket path would be too long: keep the cluster under /var/tmp, named after STATE
            rmdir "$want"
            want=/var/tmp/legalaid-stack-pg-$(printf '%s' "$STATE" | sha1sum | cut -c1-12)
            mkdir -p "$want"
            chown postgres: "$want"
            chmod 700 "$want"
        fi
    elif (( ${#want} > 90 )); then
        rmdir "$want"
        want=/var/tmp/legalaid-stack-pg-$(id -u)-$(printf '%s' "$STATE" | sha1sum | cut -c1-12)
        mkdir -p -m 700 "$want"
    fi
    echo "$want" >"$STATE/pg.path"
    PGDATA_DIR=$want
}

pg_running() { [[ -n ${PGDATA_DIR:-} && -f $PGDATA_DIR/data/postmaster.pid ]] && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR/data" status >/dev/null 2>&1; }

start_pg() {
    [[ -n $PG_BIN ]] || die "PostgreSQL 15 is not installed: run mlops/infra/install_deps.sh"
    pg_dirs
    local data=$PGDATA_DIR/data
    if [[ ! -f $data/PG_VERSION ]]; then
        as_pg "$PG_BIN/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
            -E UTF8 --locale=C.UTF-8 >>"$LOGS/pg-initdb.out" 2>&1 || die "initdb failed; see $LOGS/pg-initdb.out"
    fi
    if pg_running; then
        log "PostgreSQL already running"
    else
        need_port_free "$PG_PORT" "PostgreSQL"
        local t0=$EPOCHREALTIME
        # pg_ctl starts the server in its own session (setsid) and writes postmaster.pid.
        as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$PGDATA_DIR/server.log" -w -t 60 \
            -o "-c listen_addresses=$HOST -p $PG_PORT -k $PGDATA_DIR -c shared_buffers=32MB -c max_connections=40" \
            start >>"$LOGS/pg.out" 2>&1 || die "PostgreSQL did not start; see $PGDATA_DIR/server.log"
        log "PostgreSQL up on $HOST:$PG_PORT ($(since "$t0") s)"
    fi
    local psql=(as_pg "$PG_BIN/psql" -h "$PGDATA_DIR" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA)
    if [[ $("${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname='mlflow'") != 1 ]]; then
        "${psql[@]}" -c "CREATE ROLE mlflow LOGIN PASSWORD '$PG_PASSWORD'" >/dev/null
        log "database role mlflow created"
    fi
    if [[ $("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname='mlflow'") != 1 ]]; then
        "${psql[@]}" -c "CREATE DATABASE mlflow OWNER mlflow" >/dev/null
        log "database mlflow created"
    fi
    # libpq reads the password from here, so it is in no command line (ps shows the URI).
    umask 077
    echo "$HOST:$PG_PORT:mlflow:mlflow:$PG_PASSWORD" >"$STATE/pgpass"
    umask 022
}

stop_pg() {
    [[ -f $STATE/pg.path ]] || return 0
    PGDATA_DIR=$(cat "$STATE/pg.path")
    if pg_running; then
        log "stopping PostgreSQL"
        as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR/data" -m fast -w -t 60 stop >>"$LOGS/pg.out" 2>&1 || true
    fi
}

# ---------------------------------------------------------------------------------------------
# MLflow server: runs and registry in PostgreSQL, artifacts proxied to s3://BUCKET/mlflow.
# ---------------------------------------------------------------------------------------------
start_mlflow() {
    if alive mlflow "mlflow"; then log "mlflow server already running"; return 0; fi
    [[ -x $MLFLOW_BIN ]] || die "no mlflow at $MLFLOW_BIN (make install, or set STACK_PYTHON)"
    need_port_free "$MLFLOW_PORT" "mlflow server"
    local t0=$EPOCHREALTIME extra=()
    [[ -n ${STACK_ALLOWED_HOSTS:-} ]] && extra+=(--allowed-hosts "$STACK_ALLOWED_HOSTS")
    # The job runner and its huey workers (1.8 GiB) serve features we do not use.
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false \
    MLFLOW_DISABLE_TELEMETRY=true \
    MLFLOW_S3_ENDPOINT_URL="http://$HOST:$S3_PORT" \
    AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY \
    PGPASSFILE=$STATE/pgpass \
        spawn mlflow env -u AWS_SESSION_TOKEN -u AWS_PROFILE "$MLFLOW_BIN" server --host "$HOST" --port "$MLFLOW_PORT" --workers 1 \
        --backend-store-uri "postgresql+psycopg2://mlflow@$HOST:$PG_PORT/mlflow" \
        --artifacts-destination "s3://$BUCKET/mlflow" "${extra[@]}"
    if ! "$PY" "$HELP" wait-http "http://$HOST:$MLFLOW_PORT/health" 180 ok; then
        die "mlflow server did not answer /health on $HOST:$MLFLOW_PORT; see $LOGS/mlflow.out"
    fi
    log "mlflow server up on http://$HOST:$MLFLOW_PORT ($(since "$t0") s)"
}

# ---------------------------------------------------------------------------------------------
cmd_up() {
    load_config
    mkdir -p "$STATE"
    chmod 700 "$STATE"
    save_config
    mkdir -p "$RUN" "$LOGS"
    ensure_secrets
    ceph_init
    start_mon
    start_osd
    start_rgw
    start_pg
    start_mlflow
    log "stack up; state in $STATE. Use: eval \"\$($0 env)\""
}

cmd_down() {
    load_config
    [[ -d $STATE ]] || { log "no state at $STATE: nothing to stop"; return 0; }
    stop_group mlflow mlflow 20
    stop_pg
    stop_group rgw radosgw 20
    stop_group osd ceph-osd 60   # memstore writes its objects to disk on a clean stop
    stop_group mon ceph-mon 20
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
    if [[ -f $STATE/pg.path ]]; then
        local p; p=$(cat "$STATE/pg.path")
        [[ $p == "$STATE"/* || $p == /var/tmp/legalaid-stack-pg-* ]] && rm -rf "$p"
    fi
    rm -rf "$STATE"
    log "state removed"
}

cmd_env() {
    load_config
    [[ -f $STATE/secrets.env ]] || die "no stack state at $STATE: run '$0 up' first"
    # shellcheck disable=SC1091
    source "$STATE/secrets.env"
    cat <<EOF
export MLFLOW_TRACKING_URI=http://$HOST:$MLFLOW_PORT
export MLFLOW_S3_ENDPOINT_URL=http://$HOST:$S3_PORT
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
export DVC_REMOTE=$DVC_REMOTE_NAME
unset AWS_SESSION_TOKEN AWS_PROFILE
EOF
    if [[ $S3_PORT != 7480 || $BUCKET != legalaid ]]; then
        echo "# .dvc/config points $DVC_REMOTE_NAME at s3://legalaid/dvcstore on 127.0.0.1:7480; for this stack run:"
        echo "#   dvc remote modify --local $DVC_REMOTE_NAME endpointurl http://$HOST:$S3_PORT"
        echo "#   dvc remote modify --local $DVC_REMOTE_NAME url s3://$BUCKET/dvcstore"
    fi
}

cmd_status() {
    load_config
    [[ -d $STATE ]] || { echo "no state at $STATE"; return 0; }
    local n
    for n in mon:ceph-mon osd:ceph-osd rgw:radosgw mlflow:mlflow; do
        if alive "${n%%:*}" "${n#*:}"; then echo "${n%%:*} running (pid $(pid_of "${n%%:*}"))"; else echo "${n%%:*} stopped"; fi
    done
    if [[ -f $STATE/pg.path ]]; then PGDATA_DIR=$(cat "$STATE/pg.path"); fi
    if pg_running; then echo "postgres running (port $PG_PORT, data $PGDATA_DIR)"; else echo "postgres stopped"; fi
}

case ${1:-} in
    up) cmd_up ;;
    down) cmd_down ;;
    env) cmd_env ;;
    status) cmd_status ;;
    purge) cmd_purge ;;
    *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
