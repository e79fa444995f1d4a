//! `labtrail snapshots prune`: decide from the snapshot files which to keep (restic's rules or
//! the seed's policy, plus the ones always kept), print the decision, and with `--apply` remove
//! the others in one commit and forget them in the index.
