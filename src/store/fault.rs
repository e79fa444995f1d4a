//! Crash injection for the tests that prove a step is crash-safe: a debug build (which the
//! integration tests drive) aborts at `point` when `LABTRAIL_FAULT` names it, as a power cut
//! would stop it there; or pauses at `point` when it names `pause:POINT`, so that a test can do
//! what a user may do at that instant (move the store, press Ctrl+C) where the timing cannot be
//! hit for real. Release builds compile both to nothing.

/// Aborts the process here if `LABTRAIL_FAULT` is `point` (debug builds only).
pub(crate) fn fault_injection_crash_point(point: &str) {
    #[cfg(debug_assertions)]
    if std::env::var_os("LABTRAIL_FAULT").is_some_and(|v| v == point) {
        eprintln!("labtrail: LABTRAIL_FAULT={point}: aborting here (fault injection)");
        std::process::abort();
    }
    #[cfg(not(debug_assertions))]
    let _ = point;
}

/// Pauses here if `LABTRAIL_FAULT` is `pause:POINT` (debug builds only): makes the file
/// `$LABTRAIL_FAULT_GATE.paused`, then waits until the file `$LABTRAIL_FAULT_GATE` exists (or
/// its folder no longer does).
pub(crate) fn fault_injection_pause_point(point: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("LABTRAIL_FAULT").is_ok_and(|v| v.strip_prefix("pause:") == Some(point)) {
        let Some(gate) = std::env::var_os("LABTRAIL_FAULT_GATE").map(std::path::PathBuf::from)
        else {
            return;
        };
        let mut paused = gate.clone().into_os_string();
        paused.push(".paused");
        let _ = std::fs::write(&paused, point);
        // A test that failed and removed its folder leaves no process waiting for ever.
        while !gate.exists() && gate.parent().is_some_and(std::path::Path::exists) {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = point;
}
