# shellcheck shell=bash
# The MLflow server for stack.sh (sourced; uses its settings and helpers): runs and registry in
# PostgreSQL, artifacts proxied to s3://BUCKET/mlflow, behind MLflow's basic-auth app (accounts and
# grants in the database mlflow_auth). In a file of its own because it is the one piece that holds
# the others' secrets (S3 keys, database password file, the accounts) and reads a setting at every
# start (STACK_ALLOWED_HOSTS), not only at the first `up`.

AUTH_ADMIN=admin

auth_dir() { echo "$STATE/auth"; }

account_password() {  # account_password NAME: the password of an account, from the accounts file
    awk -v u="$1" '!/^#/ && $1 == u { print $3; found = 1 } END { exit !found }' "$(auth_dir)/accounts"
}

auth_init() {  # once: the accounts with their passwords, the Flask secret key; every start: the ini
    local dir; dir=$(auth_dir)
    mkdir -p "$dir"
    chmod 700 "$dir"
    if [[ ! -f $dir/accounts ]]; then
        (umask 077 && "$PY" "$HELP" auth-accounts >"$dir/accounts.tmp") || die "could not write $dir/accounts"
        mv "$dir/accounts.tmp" "$dir/accounts"
        log "MLflow accounts ($AUTH_ADMIN, promoter, ci, reader) generated in $dir/accounts (mode 0600)"
    fi
    if [[ ! -f $dir/flask_secret ]]; then
        (umask 077 && "$PY" "$HELP" secret 48 >"$dir/flask_secret.tmp") && mv "$dir/flask_secret.tmp" "$dir/flask_secret"
    fi
    (umask 077 && render "$HERE/stack/basic_auth.ini.template" DEFAULT_PERMISSION=READ ADMIN="$AUTH_ADMIN" \
        DATABASE_URI="postgresql+psycopg2://mlflow@$HOST:$PG_PORT/mlflow_auth" >"$dir/basic_auth.ini")
}

start_mlflow() {
    if alive mlflow "mlflow"; then log "mlflow server already running"; return 0; fi
    [[ -x $MLFLOW_BIN ]] || die "no mlflow at $MLFLOW_BIN (make install, or set STACK_PYTHON)"
    need_port_free "$MLFLOW_PORT" "mlflow server"
    "$PY" -c 'import flask_wtf' 2>/dev/null || die "MLflow's basic-auth app needs Flask-WTF: .venv/bin/pip install -r mlops/infra/requirements.txt"
    auth_init
    local t0=$EPOCHREALTIME extra=() dir admin_pw
    dir=$(auth_dir)
    admin_pw=$(account_password "$AUTH_ADMIN") || die "no $AUTH_ADMIN account in $dir/accounts"
    [[ -n ${STACK_ALLOWED_HOSTS:-} ]] && extra+=(--allowed-hosts "$STACK_ALLOWED_HOSTS")
    # The job runner and its huey workers (1.8 GiB) serve features we do not use. The admin's
    # password creates the admin on the first start (MLflow ignores it once the admin exists); it
    # and the Flask key travel in the environment, never on the command line. A client's own
    # MLFLOW_TRACKING_* credentials (an `eval "$(stack.sh env ci)"` shell) are not the server's.
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false \
    MLFLOW_DISABLE_TELEMETRY=true \
    MLFLOW_S3_ENDPOINT_URL="http://$HOST:$S3_PORT" \
    AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY \
    PGPASSFILE=$STATE/pgpass \
    MLFLOW_AUTH_CONFIG_PATH=$dir/basic_auth.ini \
    MLFLOW_AUTH_ADMIN_PASSWORD=$admin_pw \
    MLFLOW_FLASK_SERVER_SECRET_KEY=$(<"$dir/flask_secret") \
        spawn mlflow env -u AWS_SESSION_TOKEN -u AWS_PROFILE -u MLFLOW_AUTH_ADMIN_USERNAME \
        -u MLFLOW_TRACKING_USERNAME -u MLFLOW_TRACKING_PASSWORD -u MLFLOW_TRACKING_TOKEN \
        "$MLFLOW_BIN" server --host "$HOST" --port "$MLFLOW_PORT" --workers 1 --app-name basic-auth \
        --backend-store-uri "postgresql+psycopg2://mlflow@$HOST:$PG_PORT/mlflow" \
        --artifacts-destination "s3://$BUCKET/mlflow" "${extra[@]}"
    if ! "$PY" "$HELP" wait-http "http://$HOST:$MLFLOW_PORT/health" 180 ok; then
        die "mlflow server did not answer /health on $HOST:$MLFLOW_PORT; see $LOGS/mlflow.out"
    fi
    # The accounts and their grants, once (then they are the database's; adduser and rotate change them).
    if [[ ! -f $dir/.ready ]]; then
        "$PY" "$HELP" auth-setup "http://$HOST:$MLFLOW_PORT" "$dir/accounts" || die "MLflow accounts not set up"
        touch "$dir/.ready"
    fi
    log "mlflow server up on http://$HOST:$MLFLOW_PORT, basic auth ($(since "$t0") s)"
}

stop_mlflow() { stop_group mlflow mlflow 20; }

mlflow_account() {  # mlflow_account add NAME ROLE | rotate NAME: through the running server, as admin
    alive mlflow "mlflow" || die "the mlflow server is not running: $0 up first"
    [[ -f $(auth_dir)/.ready ]] || die "the MLflow accounts are not set up yet: $0 up first"
    local what=$1; shift
    "$PY" "$HELP" "auth-$what" "http://$HOST:$MLFLOW_PORT" "$(auth_dir)/accounts" "$@"
}
