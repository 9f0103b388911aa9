#!/usr/bin/env bash
# A throwaway single-node Ceph cluster (1 monitor, 1 in-memory OSD, no manager) with the RADOS
# Gateway serving S3 on 127.0.0.1, for the S3 tests. ceph-rgw.ts drives it (free ports, a state
# folder per run); it also runs by hand:
#
#   CEPH_DIR=/tmp/x CEPH_RGW_PORT=16380 CEPH_MON_PORT=16789 CEPH_MON_V2_PORT=16790 CEPH_PORT_MIN=16800 ceph-rgw.sh start
#   CEPH_DIR=/tmp/x ceph-rgw.sh bucket NAME     creates a bucket (curl signs the request with SigV4)
#   CEPH_DIR=/tmp/x ceph-rgw.sh stop            stops the daemons this folder's start started, by PID
#   ceph-rgw.sh install                         apt packages (radosgw ceph-mon ceph-osd curl), once per machine
#
# Env: CEPH_DIR (state; required for start/stop/bucket), CEPH_RGW_PORT, CEPH_MON_PORT, CEPH_MON_V2_PORT,
#      CEPH_PORT_MIN (first of CEPH_PORT_COUNT ports, default 40, that the daemons' messengers bind),
#      CEPH_OWNER_PID (optional: a watchdog stops the cluster once that process is gone, so a test run
#      killed with SIGKILL does not leave daemons behind).
# The OSD keeps data in memory: nothing survives a restart, so every start makes a new cluster.
# Everything binds to 127.0.0.1 only.
set -euo pipefail
access_key=blockvfs secret_key=blockvfs-secret region=us-east-1

need_dir() {
  dir=${CEPH_DIR:?CEPH_DIR must name the state folder}
  conf="-c $dir/ceph.conf"
}

install() {
  command -v radosgw >/dev/null && command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null && command -v curl >/dev/null && return
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends radosgw ceph-mon ceph-osd curl >/dev/null
}

write_config() {
  local fsid=$1
  cat >"$dir/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$mon_v2_port,v1:127.0.0.1:$mon_port]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
ms bind port min = $port_min
ms bind port max = $((port_min + port_count - 1))
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
osd crush chooseleaf type = 0
run dir = $dir/run
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
log file = $dir/log/\$name.log
keyring = $dir/keyring
[mon]
mon data = $dir/mon/\$name
mon cluster log file = $dir/log/cluster.log
[osd]
osd data = $dir/osd/\$id
osd objectstore = memstore
memstore device bytes = 2147483648
osd journal size = 100
[client.rgw.a]
# without this the gateway loops on an authentication error (-13)
ms mon client mode = crc secure
# without tcp_nodelay every GET waits about 40 ms (Nagle)
rgw frontends = beast endpoint=127.0.0.1:$rgw_port tcp_nodelay=1
rgw data = $dir/rgw
rgw enable usage log = false
CONF
}

wait_for() { # seconds, command...
  local until=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < until)) || { echo "ceph-rgw: timed out waiting for: $*" >&2; return 1; }
    sleep 0.2
  done
}

start() {
  need_dir
  rgw_port=${CEPH_RGW_PORT:?} mon_port=${CEPH_MON_PORT:?} mon_v2_port=${CEPH_MON_V2_PORT:?}
  port_min=${CEPH_PORT_MIN:?} port_count=${CEPH_PORT_COUNT:-40}
  for tool in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool curl; do
    command -v $tool >/dev/null || { echo "ceph-rgw: $tool is not installed (apt-get install radosgw ceph-mon ceph-osd curl)" >&2; exit 3; }
  done
  stop >/dev/null 2>&1 || true
  rm -rf "$dir"; mkdir -p "$dir"/{mon,osd,run,log,rgw}
  local fsid; fsid=$(cat /proc/sys/kernel/random/uuid)
  write_config "$fsid"
  ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$dir/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_v2_port,v1:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null
  ceph-mon $conf --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring"
  # setsid: the daemons must not get the terminal's Ctrl-C before the test run's teardown stops them.
  setsid ceph-mon $conf -i a -f >"$dir/log/mon.out" 2>&1 & echo $! >"$dir/run/mon.fgpid"
  [[ -n ${CEPH_OWNER_PID:-} ]] && start_watchdog "$CEPH_OWNER_PID"
  wait_for 30 timeout 5 ceph $conf mon stat
  local uuid id; uuid=$(cat /proc/sys/kernel/random/uuid); id=$(ceph $conf osd new "$uuid")
  mkdir -p "$dir/osd/$id"
  ceph-osd $conf -i "$id" --mkfs --osd-uuid "$uuid" >/dev/null 2>&1
  setsid ceph-osd $conf -i "$id" -f >"$dir/log/osd.out" 2>&1 & echo $! >"$dir/run/osd.fgpid"
  wait_for 60 sh -c "ceph $conf osd stat | grep -q '1 up'"
  setsid radosgw $conf -n client.rgw.a -f >"$dir/log/rgw.out" 2>&1 & echo $! >"$dir/run/rgw.fgpid"
  wait_for 90 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 http://127.0.0.1:$rgw_port/)\" = 200 ]"
  radosgw-admin $conf user create --uid=blockvfs --display-name=blockvfs \
    --access-key=$access_key --secret=$secret_key >/dev/null 2>&1
  echo "$rgw_port" >"$dir/run/rgw.port"
  echo "endpoint=http://127.0.0.1:$rgw_port access_key=$access_key secret_key=$secret_key region=$region"
}

# Stops the cluster once the owner process is gone (checked every second).
start_watchdog() {
  local owner=$1 self=$0
  setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; CEPH_DIR="$2" CEPH_WATCHDOG=1 "$3" stop; rm -rf "$2"' \
    watchdog "$owner" "$dir" "$self" >>"$dir/log/watchdog.out" 2>&1 </dev/null &
  echo $! >"$dir/run/watchdog.fgpid"
}

bucket() {
  need_dir
  local name=${1:?bucket name} port; port=$(cat "$dir/run/rgw.port")
  # curl 7.x does not sign x-amz-content-sha256 by itself, and RGW requires it: give the hash of the empty body.
  local code; code=$(curl -s -o "$dir/log/bucket.out" -w '%{http_code}' --max-time 30 -X PUT \
    -H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
    --aws-sigv4 "aws:amz:$region:s3" --user "$access_key:$secret_key" "http://127.0.0.1:$port/$name")
  [[ $code == 200 ]] || { echo "ceph-rgw: creating bucket $name answered $code: $(cat "$dir/log/bucket.out")" >&2; return 1; }
}

stop() {
  need_dir
  for daemon in rgw osd mon; do
    local f=$dir/run/$daemon.fgpid; [[ -f $f ]] || continue
    local pid; pid=$(cat "$f"); kill "$pid" 2>/dev/null || true
    for _ in $(seq 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    rm -f "$f"
  done
  # The watchdog runs this very function when its owner dies: it must not kill itself first.
  local f=$dir/run/watchdog.fgpid
  if [[ -f $f && -z ${CEPH_WATCHDOG:-} ]]; then kill "$(cat "$f")" 2>/dev/null || true; fi
  rm -f "$f"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  bucket) bucket "${2:-}" ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|bucket NAME|stop" >&2; exit 2 ;;
esac
