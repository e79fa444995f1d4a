#!/usr/bin/env bash
# The whole test suite, as the README gives it and CI runs it.
#
# Unit and integration tests run against real SQLite files and real child processes. The SLURM
# tests run against a real single-node cluster that scripts/slurm-up.sh installs and starts
# (Debian's slurmctld, slurmd, munge, slurmdbd + MariaDB); that needs root. Without it (not root,
# or LABTRAIL_SLURM=0) they are reported as ignored, never as passed.
set -euo pipefail
cd "$(dirname "$0")/.."

slurm=0
if [ "${LABTRAIL_SLURM:-1}" != 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    # MinJobAge 30 s keeps finished jobs visible briefly, as on real clusters.
    bash scripts/slurm-up.sh && slurm=1 || echo "test.sh: the SLURM cluster did not start; SLURM tests stay ignored" >&2
  elif sinfo -h >/dev/null 2>&1; then
    slurm=1
  else
    echo "test.sh: not root and no SLURM cluster answers; SLURM tests stay ignored" >&2
  fi
fi

# The HTML archive is checked in a real browser (tests/archive_html_browser.rs): Debian's
# chromium, installed here when missing (as root). With LABTRAIL_REQUIRE_CHROMIUM set, a missing
# browser fails those tests instead of skipping them.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  for i in 1 2 3; do
    if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q update >/dev/null &&
       DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q install -y chromium >/dev/null; then
      break
    fi
    echo "test.sh: installing chromium failed (try $i), retrying in 10 s" >&2; sleep 10
  done
fi
export LABTRAIL_REQUIRE_CHROMIUM=1

cargo test --all-targets "$@"
# The wheel (built once, by maturin and zig) in a fresh venv, and the Python helper's tests.
bash scripts/test-python.sh
if [ "$(id -u)" = 0 ]; then
  # Root-only: mounts a tiny tmpfs to fill the disk under the store.
  cargo test --test cli_surface --test store_writes "$@" -- --ignored
fi
if [ "$slurm" = 1 ]; then
  # One at a time: they share one small cluster, and one of them restarts slurmctld.
  cargo test --test slurm_basic --test slurm_reconcile --test slurm_detach --test slurm_lineage --test slurm_check --test slurm_logs --test slurm_requeue --test slurm_small --test slurm_states --test slurm_submit --test slurm_review --test slurm_review_submit --test slurm_facts --test slurm_provenance --test slurm_resources --test slurm_snapshot --test slurm_unbuffered --test slurm_tasks_command --test slurm_failure_line --test slurm_live --test slurm_scale --test slurm_economy --test slurm_state_budget "$@" -- --ignored --test-threads=1
fi
