//! Which signals stop labtrail.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

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

/// The stop signal received since [`catch_early_stop`]: 0, or the signal's number.
fn early_flag() -> &'static Arc<AtomicUsize> {
    static FLAG: OnceLock<Arc<AtomicUsize>> = OnceLock::new();
    FLAG.get_or_init(Default::default)
}

/// Catches the stop signals from now on, for [`early_stop`]. Called by `run` before it opens the
/// store: a Ctrl+C while a large run is created (seconds, in one transaction) must neither be
/// lost nor kill the process half way; the run is created, then stopped before any task starts.
pub fn catch_early_stop() -> std::io::Result<()> {
    static CAUGHT: OnceLock<()> = OnceLock::new();
    if CAUGHT.get().is_some() {
        return Ok(());
    }
    for &sig in stop_signals() {
        signal_hook::flag::register_usize(sig, early_flag().clone(), sig as usize)?;
    }
    let _ = CAUGHT.set(());
    Ok(())
}

/// The stop signal caught since [`catch_early_stop`], if one was. Asked by the engines once
/// their own handlers are in place, before they start or submit anything.
pub fn early_stop() -> Option<i32> {
    match early_flag().load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig as i32),
    }
}
