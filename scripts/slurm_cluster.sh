#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, for testing the cluster profile (tests/test_slurm.py).
#
#   scripts/slurm_cluster.sh check        exit 0 if a cluster can be started here, else say why (exit 3)
#   scripts/slurm_cluster.sh start DIR    start munged, slurmctld and slurmd with their state in DIR
#   scripts/slurm_cluster.sh stop DIR     cancel its jobs, stop the daemons started by `start DIR`,
#                                         remove its /etc/slurm links
#
# Needs root and Debian's slurmctld, slurmd, slurm-client and munge packages
# (apt-get install -y slurmctld slurmd slurm-client munge). The cluster has its own munge key and socket
# and its own ports (SLURMCTLD_PORT, SLURMD_PORT; default 16817, 16818). Its slurm.conf and gres.conf are in
# DIR, linked from /etc/slurm, where every Slurm command looks (the Snakemake plugin's job step runs srun
# with the SLURM_* variables removed, SLURM_CONF too): a machine whose /etc/slurm/slurm.conf is not one of
# these links already has a Slurm and is left alone (start refuses).
#
# The node is this machine: its CPUs and memory, one fake GPU (Gres=gpu:1 backed by /dev/null, so jobs
# that request --gpus=1 are scheduled on a machine without a GPU), two partitions on it, `cpu` (the
# default) and `gpu`, the names of workflow/profiles/slurm/partitions.yaml. No accounting database
# (sacct cannot answer: use the plugin's squeue status command) and MinJobAge=7200, so finished jobs stay
# visible to squeue and `scontrol show job` for 2 hours (tests/test_slurm.py reads them after its slowest
# run ends, which on a slow machine is more than Slurm's default 5 minutes). Without systemd and cgroups:
# ProctrackType=proctrack/linuxproc, TaskPlugin=task/none.
set -euo pipefail

CTLD_PORT=${SLURMCTLD_PORT:-16817}
ETC=/etc/slurm
MARK="one-node test cluster written by scripts/slurm_cluster.sh"
SLURMD_PORT=${SLURMD_PORT:-16818}

die() { echo "slurm_cluster.sh: $*" >&2; exit 1; }

why_not() {
    # prints why a cluster cannot be started here; nothing when it can
    [ "$(id -u)" = 0 ] || { echo "not root (slurmd runs jobs as their user; it must be root)"; return; }
    local b
    for b in munged slurmctld slurmd sbatch squeue scontrol sinfo; do
        command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] ||
            { echo "$b not installed (apt-get install -y slurmctld slurmd slurm-client munge)"; return; }
    done
    id munge >/dev/null 2>&1 || { echo "no user munge (install the munge package)"; return; }
    if [ -e "$ETC/slurm.conf" ] && ! grep -q "^# $MARK" "$ETC/slurm.conf" 2>/dev/null; then
        echo "this machine has a Slurm configured ($ETC/slurm.conf), left alone"
    fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
    local dir=$1
    local reason; reason=$(why_not)
    [ -z "$reason" ] || die "$reason"
    PATH=/usr/sbin:/sbin:$PATH
    [ ! -e "$dir/slurmctld.pid" ] || die "$dir already holds a cluster (stop it first: $0 stop $dir)"
    for p in "$CTLD_PORT" "$SLURMD_PORT"; do
        ! port_in_use "$p" || die "port $p is in use (set SLURMCTLD_PORT / SLURMD_PORT)"
    done
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    chmod 755 "$dir"  # munged (user munge) must reach its folder
    mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
    chown munge: "$dir/munge"
    runuser -u munge -- test -x "$dir/munge" ||
        die "user munge cannot reach $dir/munge (a parent folder is not searchable by others): choose DIR elsewhere"
    chmod 755 "$dir/munge"  # munged wants its socket folder reachable by every client
    # a private munge key: the cluster never depends on (or changes) the machine's /etc/munge
    head -c 1024 /dev/urandom >"$dir/munge/munge.key"
    chown munge: "$dir/munge/munge.key"
    chmod 400 "$dir/munge/munge.key"
    runuser -u munge -- munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"
    cp "$dir/munge/munged.pid" "$dir/munged.pid"

    local node cpus mem_mb
    node=$(hostname -s)
    cpus=$(nproc)
    # slurmd refuses a node declaring more memory than it has: declare 95% of it
    mem_mb=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.95}' /proc/meminfo)
    cat >"$dir/slurm.conf" <<EOF
# $MARK
ClusterName=declipbench-test
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/builtin
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
MinJobAge=7200
KillWait=5
GresTypes=gpu
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes=$node Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$node MaxTime=INFINITE State=UP
EOF
    # a fake GPU: /dev/null stands for the device file
    echo "NodeName=$node Name=gpu File=/dev/null" >"$dir/gres.conf"
    # where every Slurm command looks (a link left by a killed run is replaced: why_not checked the mark)
    mkdir -p "$ETC"
    ln -sfn "$dir/slurm.conf" "$ETC/slurm.conf"
    ln -sfn "$dir/gres.conf" "$ETC/gres.conf"
    slurmctld -f "$dir/slurm.conf"
    slurmd -f "$dir/slurm.conf" -N "$node"
    # idle within seconds; give it 60
    local i state
    for i in $(seq 1 120); do
        state=$(sinfo -h -N -n "$node" -o %t 2>/dev/null | head -n1 || true)
        case "$state" in idle*) break ;; esac
        sleep 0.5
    done
    case "$state" in
        idle*) ;;
        *) tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
           stop "$dir"
           die "node $node did not become idle (state '$state'); logs above" ;;
    esac
    echo "slurm_cluster.sh: node $node idle, partitions cpu (default) and gpu, config $ETC/slurm.conf -> $dir/slurm.conf"
}

stop_pids() {  # stop_pids PIDFILE...: TERM the processes they name, wait up to 10 s, KILL what is left
    local f pid pids="" i
    for f in "$@"; do
        [ -e "$f" ] && pid=$(cat "$f") && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && pids="$pids $pid"
        rm -f "$f"
    done
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086
    kill $pids 2>/dev/null || true
    for i in $(seq 1 100); do
        local alive=""
        for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive="$alive $pid"; done
        [ -z "$alive" ] && return 0
        sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -9 $alive 2>/dev/null || true
}

stop() {
    local dir=$1
    [ -d "$dir" ] || die "no such folder: $dir"
    dir=$(cd "$dir" && pwd)
    PATH=/usr/sbin:/sbin:$PATH
    if [ -e "$dir/slurmctld.pid" ] && [ -e "$dir/slurm.conf" ]; then
        export SLURM_CONF=$dir/slurm.conf
        # cancel this cluster's jobs, and wait for their processes to end
        local jobs i
        jobs=$(squeue -h -o %i -t PENDING,RUNNING,SUSPENDED,COMPLETING 2>/dev/null || true)
        if [ -n "$jobs" ]; then
            # shellcheck disable=SC2086
            scancel $jobs 2>/dev/null || true
            for i in $(seq 1 60); do
                [ -z "$(squeue -h -o %i -t PENDING,RUNNING,SUSPENDED,COMPLETING 2>/dev/null || true)" ] && break
                sleep 0.5
            done
        fi
    fi
    stop_pids "$dir/slurmd.pid" "$dir/slurmctld.pid"
    stop_pids "$dir/munged.pid"
    local f
    for f in slurm.conf gres.conf; do
        [ "$(readlink "$ETC/$f" 2>/dev/null)" = "$dir/$f" ] && rm -f "$ETC/$f"
    done
    return 0
}

case "${1:-}" in
    check) reason=$(why_not); [ -z "$reason" ] || { echo "$reason"; exit 3; } ;;
    start) [ $# = 2 ] || die "usage: $0 start DIR"; start "$2" ;;
    stop) [ $# = 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
    *) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
