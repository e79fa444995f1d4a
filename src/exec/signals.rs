//! Which signals stop labtrail.

use std::sync::OnceLock;

/// The signals that stop a runner or a monitor: SIGINT, SIGTERM, and SIGHUP unless it was
/// ignored when labtrail started. `nohup labtrail run … &` ignores SIGHUP so that closing the
/// terminal does not stop the run; a handler would undo that, so none is installed for it.
///
/// Read once, before any handler of ours exists (every handler is installed for the signals
/// this returns), so a later call still sees the disposition labtrail started with.
pub fn stop_signals() -> &'static [libc::c_int] {
    static SIGNALS: OnceLock<Vec<libc::c_int>> = OnceLock::new();
    SIGNALS.get_or_init(|| {
        let mut signals = vec![libc::SIGINT, libc::SIGTERM];
        if !ignored(libc::SIGHUP) {
            signals.push(libc::SIGHUP);
        }
        signals
    })
}

/// Whether `sig` is ignored in this process now.
fn ignored(sig: libc::c_int) -> bool {
    // SAFETY: a query (no new action); `old` is plain data the call fills.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) };
    r == 0 && old.sa_sigaction == libc::SIG_IGN
}
