#!/bin/sh
# A Swarm node in a container (docker-in-docker without --privileged), from
# ../shared/docs/multinode-swarm.md: make /sys and the cgroup mounts writable, give /run a fresh
# tmpfs (a restarted node otherwise fails with "Could not open netlink handle"), share mounts, then
# run dockerd on the usual socket and on /cek-host/docker.sock, which the tests reach from the host.
set -eu
mount -o remount,rw /sys
mount -o remount,rw /sys/fs/cgroup 2>/dev/null || true
for dir in /sys/fs/cgroup/*/; do
  mount -o remount,bind,rw "$dir" 2>/dev/null || true
done
mount -t tmpfs -o mode=0755 tmpfs /run
mount --make-rshared /
rm -f /cek-host/docker.sock
exec dockerd --config-file /etc/docker/daemon.json \
  -H unix:///var/run/docker.sock -H unix:///cek-host/docker.sock
