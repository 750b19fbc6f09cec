#!/usr/bin/env bash
# System packages for the scale-out stack (mlops/infra/stack.sh): Ceph's radosgw with one monitor
# and one OSD (the S3 object store) and PostgreSQL 15 (MLflow's backend store), from Debian.
# Idempotent: does nothing when the binaries are there; otherwise runs `apt-get update` once, then
# one `apt-get install`. Needs root (CI runs as root). Python packages are pinned in
# mlops/infra/requirements.txt and installed with the venv (make install).
set -euo pipefail

need=()
for bin in radosgw ceph-mon ceph-osd ceph radosgw-admin ceph-authtool monmaptool rados; do
    command -v "$bin" >/dev/null || { need+=(radosgw ceph-mon ceph-osd); break; }
done
pg_ok=0
for v in 15 16 17; do [[ -x /usr/lib/postgresql/$v/bin/pg_ctl ]] && pg_ok=1; done
(( pg_ok )) || need+=(postgresql-15)
# runuser (util-linux) starts PostgreSQL as the postgres user when we are root.
command -v runuser >/dev/null || need+=(util-linux)

if (( ${#need[@]} == 0 )); then
    echo "[install_deps] radosgw, ceph-mon, ceph-osd and PostgreSQL are installed"
    exit 0
fi
if [[ $EUID -ne 0 ]]; then
    echo "[install_deps] need root to install: ${need[*]} (sudo $0)" >&2
    exit 1
fi
echo "[install_deps] installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts a PostgreSQL cluster of its own where systemd runs; the stack uses its own
# cluster on another port, so that one is left as it is.
echo "[install_deps] done"
