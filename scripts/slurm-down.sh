#!/usr/bin/env bash
# slurm-down.sh — stop labtrail's SLURM test cluster (loopback only; see scripts/slurm-up.sh).
# Stops exactly the daemons slurm-up.sh started, using the PID files it kept in $SLURM_CI_DIR
# (default /run/slurm-ci), and checks each PID still runs that daemon. Never kills by name.
# Idempotent: with nothing running it does nothing and exits 0. Runs as root (as CI does).
# Packages, config, controller state and the accounting DB are kept (SLURM_FRESH=1 slurm-up.sh
# wipes state and DB).
#   SLURM_KEEP_JOBS=1   do not scancel queued/running jobs first (they are kept in
#                       StateSaveLocation and resume on the next slurm-up.sh).
set -uo pipefail
CI_DIR=${SLURM_CI_DIR:-/run/slurm-ci}
T0=$(date +%s.%N)
log() { printf "[slurm-down %5.1fs] %s\n" "$(awk -v a="$(date +%s.%N)" -v b="$T0" 'BEGIN{print a-b}')" "$*"; }
[ "$(id -u)" = 0 ] || { log "ERROR: must run as root"; exit 1; }
[ -d "$CI_DIR" ] || { log "nothing to stop ($CI_DIR does not exist)"; exit 0; }
# one slurm-up/slurm-down at a time (tests may call them concurrently)
exec 9>"$CI_DIR/.lock"
flock -w 600 9 || { log "ERROR: could not lock $CI_DIR/.lock within 600 s"; exit 1; }

# running PID: alive and not a zombie (PID 1 here reaps exited daemons only every ~2 s)
running() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1; [ -n "$st" ] && [ "$st" != Z ]; }

alive() {  # alive NAME EXE -> prints pid if $CI_DIR/NAME.pid is a live EXE
  local f="$CI_DIR/$1.pid" pid
  [ -s "$f" ] || return 1
  pid=$(cat "$f")
  # resolved paths: Debian's /usr/sbin/slurmd is an alternatives link to slurmd-wlm;
  # a recycled PID running something else is never signalled
  { [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$2")" ] && running "$pid"; } \
    || { rm -f "$f"; return 1; }
  echo "$pid"
}

# Cancel jobs first so no job processes (slurmstepd children) outlive slurmd.
if [ "${SLURM_KEEP_JOBS:-0}" != 1 ] && alive slurmctld /usr/sbin/slurmctld >/dev/null; then
  jobs=$(timeout 20 squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ')
  if [ -n "${jobs// }" ]; then
    log "cancelling jobs: $jobs"
    # shellcheck disable=SC2086
    timeout 20 scancel $jobs 2>/dev/null || true
    for _ in $(seq 1 60); do [ -z "$(timeout 20 squeue -h -o %A 2>/dev/null)" ] && break; sleep 0.5; done
  fi
fi

stop() {  # stop NAME EXE
  local pid
  pid=$(alive "$1" "$2") || { rm -f "$CI_DIR/$1.pid"; return 0; }
  log "stopping $1 (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do running "$pid" || break; sleep 0.1; done
  if running "$pid"; then log "$1 did not exit in 30 s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$CI_DIR/$1.pid"
}

stop slurmd    /usr/sbin/slurmd
stop slurmctld /usr/sbin/slurmctld
stop slurmdbd  /usr/sbin/slurmdbd
stop mariadbd  /usr/sbin/mariadbd
stop munged    /usr/sbin/munged
log "done"
