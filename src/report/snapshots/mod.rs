//! Read-only models behind `labtrail snapshots`: the timeline, what was running at a time, a
//! job's lifetime, a flag's first appearance, an experiment's course and its estimated
//! completion; each one query over the snapshot index.
