//! Crash injection for the tests that prove a step is crash-safe: a debug build (which the
//! integration tests drive) aborts at `point` when `LABTRAIL_FAULT` names it, as a power cut
//! would stop it there. Release builds compile it to nothing.

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
