#!/usr/bin/env bash
# slurm-up.sh — labtrail's SLURM test cluster: a real single-host Slurm 22.05 (Debian 12
# packages slurmctld, slurmd, slurm-client, munge, slurmdbd + MariaDB for sacct), run WITHOUT
# systemd, for the SLURM executor's tests and for developers. LOOPBACK ONLY: every daemon
# binds/talks to 127.0.0.1, MariaDB listens on its unix socket only (--skip-networking).
# Runs as root (as CI does). See docs/slurm-notes.md for the behaviour it was checked against.
#
# Idempotent: installs only missing packages, rewrites config only when it differs, (re)starts
# only daemons that are not running (or whose config changed), then waits until the node is usable.
# Running it twice in a row changes nothing and restarts nothing.
#
# Env knobs (all optional):
#   SLURM_ACCOUNTING=dbd|none  dbd (default): slurmdbd + MariaDB so `sacct` works (+~25 s cold);
#                              none: no sacct (jobcomp/filetxt completion log is always on).
#   SLURM_CPUS=N               CPUs to declare for the node (default: max(real count, 16), so ~10
#                              one-CPU jobs run at once even on a 2-core box; >real => overcommit).
#   SLURM_MIN_JOB_AGE=S        seconds finished jobs stay in squeue/scontrol (default 30; +<=60 s purge lag).
#   SLURM_FRESH=1              wipe controller state (job ids restart at 1, queued jobs lost) and the DB.
#   SLURM_CI_DIR=/run/slurm-ci where PID files of the daemons *this script started* are kept.
#   SLURM_WAIT_S=60            how long to wait for the node to come up.
#   SLURM_CGROUP=0|1           0 (default): no cgroups; --mem is enforced by the accounting poller
#                              (job ends FAILED, ExitCode 0:9). 1: proctrack/cgroup + task/cgroup
#                              (cgroup v1, needs a writable /sys/fs/cgroup/memory): the kernel
#                              enforces --mem and the job ends OUT_OF_MEMORY. Caution: slurmd then
#                              moves job processes into its own cgroups (/sys/fs/cgroup/*/slurm_<host>),
#                              out of whatever cgroup the caller's session runs in.
# Daemons started: munged, [mariadbd, slurmdbd,] slurmctld, slurmd. Stop them with slurm-down.sh.
#
# Gotchas solved here (keep them):
#  * apt postinst scripts would try to start daemons: a temporary policy-rc.d (exit 101) stops that.
#  * Debian's /usr/sbin/slurmd etc. are alternatives symlinks (slurmd-wlm): PIDs are checked
#    against the *resolved* exe, and a recycled PID running something else is never signalled.
#  * PID 1 here reaps exited daemons lazily: a zombie counts as "not running".
#  * Node RealMemory is declared as 80% of what slurmd -C sees, so the node never registers INVALID.
#  * SLURM_CPUS above the real count needs SlurmdParameters=config_overrides (else node INVALID).
#  * AuthInfo=cred_expire=10: a requeued job may start again after ~11 s instead of ~121 s.
#  * AccountingStoreFlags=job_comment: without it sacct's Comment column is always empty.
#  * StateSaveLocation remembers the ClusterName; slurmctld refuses to start if it changed, so a
#    state dir written for another cluster name is wiped (it is only this test cluster's state).
#  * SLURM_FRESH stops slurmctld *before* wiping: it rewrites its state (next job id) on exit.
#  * slurm-up/slurm-down serialise on flock $SLURM_CI_DIR/.lock (tests may call them at once);
#    daemons are started with that fd closed, else they would hold the lock forever.
set -euo pipefail

T_START=$(date +%s.%N)
ACCT=${SLURM_ACCOUNTING:-dbd}
MIN_JOB_AGE=${SLURM_MIN_JOB_AGE:-30}
CI_DIR=${SLURM_CI_DIR:-/run/slurm-ci}
WAIT_S=${SLURM_WAIT_S:-60}
CLUSTER=labtrail
CONF=/etc/slurm/slurm.conf
DBDCONF=/etc/slurm/slurmdbd.conf
STATE=/var/lib/slurm/slurmctld
SPOOL=/var/lib/slurm/slurmd
LOGDIR=/var/log/slurm
RUNDIR=/run/slurm
DB_PASS=slurmdbpass   # loopback-only (unix socket) test DB

log() { printf '[slurm-up %6.1fs] %s\n' "$(awk -v a="$(date +%s.%N)" -v b="$T_START" 'BEGIN{print a-b}')" "$*"; }
die() { log "ERROR: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
case "$ACCT" in dbd|none) ;; *) die "SLURM_ACCOUNTING must be dbd or none";; esac
case "$MIN_JOB_AGE" in ''|*[!0-9]*) die "SLURM_MIN_JOB_AGE must be a number of seconds";; esac
case "${SLURM_CGROUP:-0}" in 0|1) ;; *) die "SLURM_CGROUP must be 0 or 1";; esac
case "${SLURM_CPUS:-1}" in ''|*[!0-9]*|0) die "SLURM_CPUS must be a positive integer";; esac
mkdir -p "$CI_DIR"
# one slurm-up/slurm-down at a time (tests may call them concurrently); daemons are started
# with fd 9 closed (9>&-) so they never inherit, and hold, the lock
exec 9>"$CI_DIR/.lock"
flock -w 600 9 || die "could not lock $CI_DIR/.lock within 600 s"

# ---------------------------------------------------------------- 1. packages
PKGS=(slurmctld slurmd slurm-client munge)
[ "$ACCT" = dbd ] && PKGS+=(slurmdbd mariadb-server)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
apt_retry() {  # apt waits for the dpkg lock itself (Lock::Timeout); retry a few times anyway
  local i
  for i in 1 2 3 4 5; do
    if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q "$@"; then return 0; fi
    log "apt-get $1 failed (try $i), retrying in 10 s"; sleep 10
  done
  return 1
}
made_policy=0
cleanup_policy() { if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; made_policy=0; fi; }
trap cleanup_policy EXIT
if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  # Keep postinst scripts from starting daemons (no init system here); restored afterwards.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1
  fi
  apt_retry update >/dev/null
  apt_retry install -y --no-install-recommends "${missing[@]}" >/dev/null
  cleanup_policy
  log "packages installed"
else
  log "packages already installed"
fi

# ---------------------------------------------------------------- helpers
# running PID: alive and not a zombie (PID 1 may reap exited daemons only every ~2 s)
running() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1; [ -n "$st" ] && [ "$st" != Z ]; }
# is_exe PID EXE: PID runs EXE (resolved: Debian's /usr/sbin/slurmd -> alternatives -> slurmd-wlm)
is_exe() { local exe; exe=$(readlink "/proc/$1/exe" 2>/dev/null || true); [ -n "$exe" ] && [ "$exe" = "$(readlink -f "$2")" ] && running "$1"; }
# pid_alive NAME EXE: true if $CI_DIR/NAME.pid names a live process running EXE
pid_alive() {
  local f="$CI_DIR/$1.pid"
  [ -s "$f" ] && is_exe "$(cat "$f")" "$2" && return 0
  rm -f "$f"; return 1
}
# adopt NAME EXE DAEMON_PIDFILE: a daemon of *this* cluster (it wrote the pid file our config
# names) is running but $CI_DIR lost track of it: record it as ours instead of starting a second one.
adopt() {
  local pid
  pid_alive "$1" "$2" && return 0
  [ -s "$3" ] || return 1
  pid=$(cat "$3"); is_exe "$pid" "$2" || return 1
  echo "$pid" > "$CI_DIR/$1.pid"; log "$1 already running (pid $pid, adopted)"; return 0
}
# wait_pidfile FILE: wait for a daemon-written pid file and print the pid
wait_pidfile() {
  local i
  for i in $(seq 1 100); do
    if [ -s "$1" ] && running "$(cat "$1")"; then cat "$1"; return 0; fi
    sleep 0.1
  done
  return 1
}
stop_ours() {  # stop_ours NAME EXE  (only a pid we recorded, only if it is still EXE)
  local f="$CI_DIR/$1.pid" pid i
  pid_alive "$1" "$2" || return 0
  pid=$(cat "$f"); log "stopping $1 (pid $pid) to restart it"
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 300); do running "$pid" || break; sleep 0.1; done
  if running "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$f"
}
write_if_changed() {  # write_if_changed DEST MODE OWNER < content ; returns 0 if changed
  local tmp; tmp=$(mktemp)
  cat > "$tmp"
  if [ -f "$1" ] && cmp -s "$tmp" "$1" \
     && [ "$(stat -c '%a %U:%G' "$1")" = "$2 $3" ]; then rm -f "$tmp"; return 1; fi
  install -m "$2" -o "${3%:*}" -g "${3#*:}" "$tmp" "$1"; rm -f "$tmp"; return 0
}

# ---------------------------------------------------------------- 2. munge
if [ ! -s /etc/munge/munge.key ]; then
  log "creating munge key"; mungekey --create --keyfile=/etc/munge/munge.key --force
fi
chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
install -d -o munge -g munge -m 755 /run/munge
install -d -o munge -g munge -m 700 /var/log/munge /var/lib/munge
if pid_alive munged /usr/sbin/munged; then
  log "munged already running (pid $(cat "$CI_DIR/munged.pid"))"
elif munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  log "munged running but not started by us: using it, will not stop it"
else
  rm -f /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged </dev/null >/dev/null 2>&1 9>&-
  wait_pidfile /run/munge/munged.pid > "$CI_DIR/munged.pid" || die "munged did not start"
  log "munged started (pid $(cat "$CI_DIR/munged.pid"))"
fi

# ---------------------------------------------------------------- 3. config
HOST=$(hostname -s)
# Hardware line from slurmd itself; declare 80% of RAM so the node never registers as INVALID.
SLURMD_C=$(slurmd -C | head -1)
read -r -a HW <<<"$SLURMD_C"
REALCPUS=$(nproc)
DEFCPUS=$(( REALCPUS > 16 ? REALCPUS : 16 ))
CPUS=${SLURM_CPUS:-$DEFCPUS}
MEM=$(( $(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$SLURMD_C") * 8 / 10 ))
if [ "$CPUS" -ne "$REALCPUS" ]; then
  NODEHW="CPUs=$CPUS"; OVERRIDE="SlurmdParameters=config_overrides"
else
  NODEHW=$(printf '%s\n' "${HW[@]}" | grep -E '^(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)=' | tr '\n' ' ')
  OVERRIDE=""
fi
if [ "$ACCT" = dbd ]; then
  ACCTCONF="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
# without job_comment, sacct's Comment column stays empty
AccountingStoreFlags=job_comment"
else
  ACCTCONF="AccountingStorageType=accounting_storage/none"
fi
if [ "${SLURM_CGROUP:-0}" = 1 ]; then
  [ -w /sys/fs/cgroup/memory ] || die "SLURM_CGROUP=1 needs a writable cgroup v1 memory controller at /sys/fs/cgroup/memory"
  PROCCONF="ProctrackType=proctrack/cgroup
TaskPlugin=task/cgroup
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=2
# cgroups: the kernel enforces --mem (state OUT_OF_MEMORY)"
else
  PROCCONF="ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=2
# no cgroups: --mem is enforced by the accounting poller (every 2 s) killing the step
# (state FAILED, ExitCode 0:9, never OUT_OF_MEMORY)
JobAcctGatherParams=OverMemoryKill"
fi
install -d -o slurm -g slurm -m 755 "$STATE" "$LOGDIR" "$RUNDIR"
install -d -o root -g root -m 755 "$SPOOL"

# adopt daemons of this cluster that are running but not recorded (e.g. $SLURM_CI_DIR changed)
adopt slurmd /usr/sbin/slurmd "$RUNDIR/slurmd.pid" || true
adopt slurmctld /usr/sbin/slurmctld "$RUNDIR/slurmctld.pid" || true
[ "$ACCT" = dbd ] && { adopt slurmdbd /usr/sbin/slurmdbd "$RUNDIR/slurmdbd.pid" || true; }

wipe_state() {
  # stop first: slurmctld writes its state (and the next job id) again when it exits
  stop_ours slurmd /usr/sbin/slurmd; stop_ours slurmctld /usr/sbin/slurmctld
  log "$1: wiping $STATE and $LOGDIR/jobcomp.log"; find "$STATE" -mindepth 1 -delete
  rm -f "$LOGDIR/jobcomp.log"
}
if [ "${SLURM_FRESH:-0}" = 1 ]; then
  stop_ours slurmdbd /usr/sbin/slurmdbd
  wipe_state "SLURM_FRESH=1"
elif [ -s "$STATE/clustername" ] && [ "$(cat "$STATE/clustername")" != "$CLUSTER" ]; then
  wipe_state "state dir belongs to cluster '$(cat "$STATE/clustername")', not '$CLUSTER'"
fi

CONF_CHANGED=0
write_if_changed "$CONF" 644 root:root <<EOF && CONF_CHANGED=1 || true
# generated by labtrail scripts/slurm-up.sh — single-host test cluster, loopback only,
# no systemd. Edit the script, not this file.
ClusterName=$CLUSTER
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CryptoType=crypto/munge
# requeued jobs wait cred_expire+1 s before they may start again (default 120)
AuthInfo=cred_expire=10
SlurmUser=slurm
SlurmdUser=root
StateSaveLocation=$STATE
SlurmdSpoolDir=$SPOOL
SlurmctldPidFile=$RUNDIR/slurmctld.pid
SlurmdPidFile=$RUNDIR/slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
$PROCCONF
$ACCTCONF
JobCompType=jobcomp/filetxt
JobCompLoc=$LOGDIR/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=5
ReturnToService=2
MinJobAge=$MIN_JOB_AGE
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
Waittime=0
MessageTimeout=10
MpiDefault=none
MailProg=/bin/true
$OVERRIDE
NodeName=$HOST NodeAddr=127.0.0.1 $NODEHW RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
[ $CONF_CHANGED = 1 ] && log "wrote $CONF"
if [ "${SLURM_CGROUP:-0}" = 1 ]; then
  write_if_changed /etc/slurm/cgroup.conf 644 root:root <<EOF && { CONF_CHANGED=1; log "wrote /etc/slurm/cgroup.conf"; } || true
# generated by labtrail scripts/slurm-up.sh (SLURM_CGROUP=1)
CgroupPlugin=cgroup/v1
CgroupMountpoint=/sys/fs/cgroup
ConstrainCores=no
ConstrainRAMSpace=yes
ConstrainSwapSpace=no
ConstrainDevices=no
EOF
elif [ -e /etc/slurm/cgroup.conf ]; then
  rm -f /etc/slurm/cgroup.conf; CONF_CHANGED=1; log "removed /etc/slurm/cgroup.conf"
fi

# ---------------------------------------------------------------- 4. accounting (optional)
if [ "$ACCT" = dbd ]; then
  DBD_CHANGED=0
  write_if_changed "$DBDCONF" 600 slurm:slurm <<EOF && DBD_CHANGED=1 || true
# generated by labtrail scripts/slurm-up.sh — loopback only
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=slurm
DebugLevel=info
LogFile=$LOGDIR/slurmdbd.log
PidFile=$RUNDIR/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF
  # MariaDB on its unix socket only (--skip-networking)
  install -d -o mysql -g root -m 755 /run/mysqld
  if [ ! -d /var/lib/mysql/mysql ]; then
    log "initialising MariaDB datadir"
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  fi
  adopt mariadbd /usr/sbin/mariadbd /run/mysqld/mysqld.pid || true
  if pid_alive mariadbd /usr/sbin/mariadbd; then
    log "mariadbd already running (pid $(cat "$CI_DIR/mariadbd.pid"))"
  elif mariadb-admin ping >/dev/null 2>&1; then
    log "a MariaDB not started by us answers on the socket: using it, will not stop it"
  else
    rm -f /run/mysqld/mysqld.pid
    setsid /usr/sbin/mariadbd --user=mysql --skip-networking --socket=/run/mysqld/mysqld.sock \
      --pid-file=/run/mysqld/mysqld.pid </dev/null >>"$LOGDIR/mariadb.log" 2>&1 9>&- &
    wait_pidfile /run/mysqld/mysqld.pid > "$CI_DIR/mariadbd.pid" || die "mariadbd did not start (see $LOGDIR/mariadb.log)"
    for _ in $(seq 1 100); do mariadb-admin ping >/dev/null 2>&1 && break; sleep 0.1; done
    log "mariadbd started (pid $(cat "$CI_DIR/mariadbd.pid"))"
  fi
  if [ "${SLURM_FRESH:-0}" = 1 ]; then mariadb -e "DROP DATABASE IF EXISTS slurm_acct_db"; fi
  mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
  [ $DBD_CHANGED = 1 ] && stop_ours slurmdbd /usr/sbin/slurmdbd
  if pid_alive slurmdbd /usr/sbin/slurmdbd; then
    log "slurmdbd already running (pid $(cat "$CI_DIR/slurmdbd.pid"))"
  else
    rm -f "$RUNDIR/slurmdbd.pid"
    /usr/sbin/slurmdbd </dev/null >/dev/null 2>&1 9>&-
    wait_pidfile "$RUNDIR/slurmdbd.pid" > "$CI_DIR/slurmdbd.pid" || die "slurmdbd did not start (see $LOGDIR/slurmdbd.log)"
    for _ in $(seq 1 100); do sacctmgr -n -P list cluster >/dev/null 2>&1 && break; sleep 0.2; done
    sacctmgr -n -P list cluster >/dev/null 2>&1 || die "slurmdbd not answering (see $LOGDIR/slurmdbd.log)"
    log "slurmdbd started (pid $(cat "$CI_DIR/slurmdbd.pid"))"
  fi
fi

# ---------------------------------------------------------------- 5. slurmctld + slurmd
if [ $CONF_CHANGED = 1 ]; then
  stop_ours slurmd /usr/sbin/slurmd
  stop_ours slurmctld /usr/sbin/slurmctld
fi
if pid_alive slurmctld /usr/sbin/slurmctld; then
  log "slurmctld already running (pid $(cat "$CI_DIR/slurmctld.pid"))"
else
  rm -f "$RUNDIR/slurmctld.pid"
  /usr/sbin/slurmctld </dev/null >/dev/null 2>&1 9>&-
  wait_pidfile "$RUNDIR/slurmctld.pid" > "$CI_DIR/slurmctld.pid" || die "slurmctld did not start (see $LOGDIR/slurmctld.log)"
  log "slurmctld started (pid $(cat "$CI_DIR/slurmctld.pid"))"
fi
if pid_alive slurmd /usr/sbin/slurmd; then
  log "slurmd already running (pid $(cat "$CI_DIR/slurmd.pid"))"
else
  rm -f "$RUNDIR/slurmd.pid"
  /usr/sbin/slurmd </dev/null >/dev/null 2>&1 9>&-
  wait_pidfile "$RUNDIR/slurmd.pid" > "$CI_DIR/slurmd.pid" || die "slurmd did not start (see $LOGDIR/slurmd.log)"
  log "slurmd started (pid $(cat "$CI_DIR/slurmd.pid"))"
fi

# ---------------------------------------------------------------- 6. wait for the node
resumed=0; st=""
for i in $(seq 1 $((WAIT_S * 4))); do
  st=$(sinfo -h -n "$HOST" -o %T 2>/dev/null || true)
  case "$st" in
    idle|mixed|allocated|completing) break;;
    *drain*|down*|*fail*|inval*)
      if [ $resumed = 0 ] && [ "$i" -gt 8 ]; then
        log "node is '$st': resuming"; scontrol update NodeName="$HOST" State=RESUME || true; resumed=1
      fi;;
  esac
  sleep 0.25
done
case "$st" in idle|mixed|allocated|completing) ;; *) die "node $HOST is '$st' after ${WAIT_S}s (see $LOGDIR/slurmctld.log, $LOGDIR/slurmd.log)";; esac
log "cluster '$CLUSTER' up: node $HOST $st ($(sinfo -h -n "$HOST" -o %c) CPUs, ${MEM} MB, accounting=$ACCT)"
