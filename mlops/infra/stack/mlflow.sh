# shellcheck shell=bash
# The MLflow server for stack.sh (sourced; uses its settings and helpers): runs and registry in
# PostgreSQL, artifacts proxied to s3://BUCKET/mlflow. In a file of its own because it is the one
# piece that holds the others' secrets (S3 keys, database password file) and reads a setting at
# every start (STACK_ALLOWED_HOSTS), not only at the first `up`.

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

stop_mlflow() { stop_group mlflow mlflow 20; }
