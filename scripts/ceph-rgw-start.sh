#!/usr/bin/env bash
# Starts a throwaway real S3 server for the S3 spool tests: Ceph's radosgw on a one-monitor, one-OSD
# cluster whose OSD keeps its data in RAM (memstore), no cephx, loopback only. Usage: ceph-rgw-start.sh DIR
# Prints `endpoint=... access_key=... secret_key=...` (also in DIR/rgw.env); stop with ceph-rgw-stop.sh DIR.
# Needs Debian's radosgw, ceph-mon and ceph-osd (apt-get install --no-install-recommends radosgw ceph-mon ceph-osd).
set -Eeuo pipefail
trap 'echo "ceph-rgw-start: failed at line $LINENO: $BASH_COMMAND" >&2; [ -f "${D:-}/start.log" ] && tail -n 20 "$D/start.log" >&2' ERR
export PATH="$PATH:/usr/sbin:/usr/bin"
mkdir -p "${1:?usage: ceph-rgw-start.sh DIR}"
D=$(realpath "$1")
mkdir -p "$D/run" "$D/mon.a" "$D/osd.0" "$D/rgw"

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
MONP=$(free_port)
RGWP=$(free_port)
FSID=$(cat /proc/sys/kernel/random/uuid)
OSDUUID=$(cat /proc/sys/kernel/random/uuid)
ACCESS=MBACCESS$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
SECRET=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')

cat >"$D/ceph.conf" <<CONF
[global]
fsid = $FSID
mon_host = v1:127.0.0.1:$MONP
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_msgr2 = false
ms_bind_ipv6 = false
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
keyring = $D/keyring
run_dir = $D/run
admin_socket = $D/run/\$name.asok
pid_file = $D/run/\$name.pid
log_file = $D/\$name.log
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
osd_pool_default_pg_num = 1
osd_pool_default_pgp_num = 1
osd_pool_default_pg_autoscale_mode = off
mon_max_pg_per_osd = 1000
osd_crush_chooseleaf_type = 0
mon_data_avail_crit = 0
paxos_propose_interval = 0.1
[mon]
mon_data = $D/mon.\$id
[osd]
osd_data = $D/osd.\$id
osd_objectstore = memstore
memstore_device_bytes = 536870912
[client.rgw]
rgw_frontends = beast endpoint=127.0.0.1:$RGWP
rgw_data = $D/rgw
CONF

C=(-c "$D/ceph.conf")
quiet() { "$@" >>"$D/start.log" 2>&1; }
# gives up after about 30 s, saying which step hung
wait_for() {
  local what=$1
  shift
  for _ in $(seq 150); do "$@" >>"$D/start.log" 2>&1 && return 0; sleep 0.2; done
  echo "ceph-rgw-start: $what did not come up; see $D/*.log" >&2
  exit 1
}

quiet ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *'
quiet ceph-authtool "$D/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *'
quiet monmaptool --create --fsid "$FSID" --addv a "[v1:127.0.0.1:$MONP]" "$D/monmap"
quiet ceph-mon "${C[@]}" --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring"
quiet ceph-mon "${C[@]}" -i a
# a busy machine may take a while to bring the monitor into quorum; `osd new` with one uuid is idempotent
wait_for 'the monitor' ceph "${C[@]}" osd new "$OSDUUID" 0
quiet ceph-osd "${C[@]}" -i 0 --mkfs --osd-uuid "$OSDUUID"
# on a loaded machine the OSD can ask the monitor before it has the monitor map ('wrong fsid') and exit: start it again
wait_for 'the OSD daemon' ceph-osd "${C[@]}" -i 0
wait_for 'the OSD' sh -c "ceph -c '$D/ceph.conf' osd stat | grep -q '1 up'"
quiet radosgw "${C[@]}" -n client.rgw
wait_for 'radosgw' curl -sf "http://127.0.0.1:$RGWP/"
quiet radosgw-admin "${C[@]}" user create --uid=mailbridge --display-name=mailbridge \
  --access-key="$ACCESS" --secret-key="$SECRET"

echo "endpoint=http://127.0.0.1:$RGWP access_key=$ACCESS secret_key=$SECRET" | tee "$D/rgw.env"
