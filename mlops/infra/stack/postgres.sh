# shellcheck shell=bash
# PostgreSQL for stack.sh (sourced; uses its settings and helpers): MLflow's backend store and the
# basic-auth app's database. In a file of its own because it is run unlike the Ceph daemons: pg_ctl
# starts and stops it (it forks its own session), and as root it must run as the postgres user, in
# a folder that user can enter.
# Its own cluster; socket in the data folder; local socket = trust (for set-up), TCP =
# scram-sha-256 (the mlflow role has a password).

as_pg() {  # run a PostgreSQL binary as the postgres user when we are root (it refuses root)
    if [[ $EUID -eq 0 ]]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

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
        (umask 077 && mkdir -p "$want")
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
    # mlflow: runs and registry; mlflow_auth: the basic-auth app's accounts and grants, apart so
    # neither schema's migrations ever meet the other's tables.
    local db
    for db in mlflow mlflow_auth; do
        if [[ $("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname='$db'") != 1 ]]; then
            "${psql[@]}" -c "CREATE DATABASE $db OWNER mlflow" >/dev/null
            log "database $db created"
        fi
    done
    # libpq reads the password from here, so it is in no command line (ps shows the URI).
    umask 077
    printf '%s\n' "$HOST:$PG_PORT:mlflow:mlflow:$PG_PASSWORD" "$HOST:$PG_PORT:mlflow_auth:mlflow:$PG_PASSWORD" >"$STATE/pgpass"
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

pg_status() {  # the status line
    if [[ -f $STATE/pg.path ]]; then PGDATA_DIR=$(cat "$STATE/pg.path"); fi
    if pg_running; then echo "postgres running (port $PG_PORT, data $PGDATA_DIR)"; else echo "postgres stopped"; fi
}

purge_pg() {  # delete the cluster, wherever pg_dirs put it (only a folder this stack made)
    [[ -f $STATE/pg.path ]] || return 0
    local p; p=$(cat "$STATE/pg.path")
    if [[ $p == "$STATE"/* || $p == /var/tmp/legalaid-stack-pg-* ]]; then rm -rf "$p"; fi
}
