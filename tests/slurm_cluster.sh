#!/bin/sh
# A single-node Slurm cluster on localhost for the tests: munged, slurmctld and slurmd, everything
# (key, sockets, state, logs, slurm.conf) in DIR, run as the current user (root, as CI runs).
#   tests/slurm_cluster.sh start DIR   # prints "SLURM_CONF=DIR/slurm.conf" once the node is idle
#   tests/slurm_cluster.sh stop DIR
# Exits non-zero with the reason when something cannot start.
set -eu
action=$1
dir=$2
stop() {
  for name in slurmd slurmctld munged; do
    [ -f "$dir/$name.pid" ] && kill "$(cat "$dir/$name.pid")" 2>/dev/null || true
  done
  sleep 0.5
}
if [ "$action" = stop ]; then stop; exit 0; fi
for tool in munged slurmctld slurmd sbatch squeue sinfo; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || { echo "$tool is not installed (Debian: slurm-wlm, munge)"; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "the test cluster runs as root (as CI does); this is uid $(id -u)"; exit 1; }
mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
chmod 700 "$dir/munge"
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 2>/dev/null
chmod 400 "$dir/munge/munge.key"
/usr/sbin/munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/socket" \
  --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/seed" \
  || { echo "munged does not start:"; cat "$dir/munged.log" 2>/dev/null; exit 1; }
host=$(hostname -s)
cpus=$(nproc)
port=$((20000 + $$ % 20000))
cat > "$dir/slurm.conf" <<CONF
ClusterName=mattecast-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$dir/munge/socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmdTimeout=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
export SLURM_CONF="$dir/slurm.conf"
/usr/sbin/slurmctld -i -f "$SLURM_CONF" || { echo "slurmctld does not start:"; tail -5 "$dir/slurmctld.log"; stop; exit 1; }
/usr/sbin/slurmd -f "$SLURM_CONF" || { echo "slurmd does not start:"; tail -5 "$dir/slurmd.log"; stop; exit 1; }
for i in $(seq 1 100); do
  if sinfo -h -o %t 2>/dev/null | grep -q idle; then echo "SLURM_CONF=$SLURM_CONF"; exit 0; fi
  sleep 0.2
done
echo "the node did not come up:"; tail -5 "$dir/slurmctld.log" "$dir/slurmd.log" 2>/dev/null
stop
exit 1
