# shellcheck shell=bash
# Ceph for stack.sh (sourced; uses its settings and helpers): one monitor, one memstore OSD and
# radosgw, the S3 endpoint. In a file of its own because it is the longest set-up of the stack:
# cluster keys, monitor map and OSD are made once, then each start only waits for the daemon.
# cephx keyrings, because auth "none" makes radosgw hang. The config is ceph.conf.template.

ceph_cli() { timeout 60 ceph -c "$CEPH_CONF" --connect-timeout 10 "$@"; }

ceph_init() {
    [[ -f $STATE/ceph/.initialised ]] && return 0
    command -v ceph-mon >/dev/null || die "ceph-mon is not installed: run mlops/infra/install_deps.sh"
    local c=$STATE/ceph fsid
    rm -rf "$c"
    mkdir -p "$c/mon" "$c/osd" "$c/keyring" "$RUN" "$LOGS"
    fsid=$(cat /proc/sys/kernel/random/uuid)
    render "$HERE/stack/ceph.conf.template" FSID="$fsid" HOST="$HOST" MON_PORT="$MON_PORT" \
        S3_PORT="$S3_PORT" RUN="$RUN" LOGS="$LOGS" CEPH_DIR="$c" >"$CEPH_CONF"
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

start_ceph() { ceph_init; start_mon; start_osd; start_rgw; }

stop_ceph() {  # the gateway first, the monitor last
    stop_group rgw radosgw 20
    stop_group osd ceph-osd 60   # memstore writes its objects to disk on a clean stop
    stop_group mon ceph-mon 20
}
