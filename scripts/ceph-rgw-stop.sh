#!/usr/bin/env bash
# Stops what ceph-rgw-start.sh DIR started (SIGKILL: the cluster is throwaway, its data in RAM) and removes DIR.
set -uo pipefail
D=${1:?usage: ceph-rgw-stop.sh DIR}
for pidfile in "$D"/run/*.pid; do
  [ -f "$pidfile" ] && kill -9 "$(cat "$pidfile")" 2>/dev/null
done
rm -rf "$D"
