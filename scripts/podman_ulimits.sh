#!/usr/bin/env bash
# Print the --ulimit flags podman needs on this host (used by build_images.sh and the image test).
# Without them rootful podman asks runc for nofile/nproc 1048576, which fails where the caller
# lacks CAP_SYS_RESOURCE ("error setting rlimit type 7: operation not permitted"). podman also
# lowers its own nproc to kernel.pid_max, so the container cannot get more than that either.
set -euo pipefail
nofile="$(ulimit -Hn)"
nproc="$(ulimit -Hu)"
pid_max="$(cat /proc/sys/kernel/pid_max)"
if [ "$nproc" = unlimited ] || ((nproc > pid_max)); then
  nproc="$pid_max"
fi
echo "--ulimit nofile=$nofile:$nofile --ulimit nproc=$nproc:$nproc"
