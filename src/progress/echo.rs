//! The terminal's own echo while the live area is drawn. indicatif leaves the cursor at the
//! right edge of the area's last line and redraws by moving up as many lines as it drew; a key
//! the terminal echoes there (`^C` when Ctrl+C stops the run, a new line for Enter) moves the
//! cursor a line down behind its back, and every redraw from then on leaves a stale line (the
//! bar) above. So, as long as the area is drawn, the terminal echoes nothing: Ctrl+C still
//! stops the run (the signal does not depend on the echo), and keys typed meanwhile still
//! reach the shell afterwards, which shows them as it reads them.

use std::os::fd::RawFd;

/// The echo flags this turns off: the echo of typed keys, and of control keys as `^C`.
const ECHO_FLAGS: libc::tcflag_t = libc::ECHO | libc::ECHOCTL;

/// The terminal on `fd` with its echo off until dropped, when the flags that were on are put
/// back. Does nothing when `fd` is not a terminal, or when labtrail is not in its foreground
/// (a background job that changed the terminal's modes would be stopped by SIGTTOU, and the
/// terminal is not its to change).
pub struct EchoOff {
    fd: RawFd,
    /// The echo flags that were on, and are put back on drop.
    were_on: libc::tcflag_t,
}

impl EchoOff {
    /// Turns the echo of the terminal on stderr off; `None` when there is nothing to turn off.
    pub fn on_stderr() -> Option<EchoOff> {
        let fd = libc::STDERR_FILENO;
        if !in_foreground(fd) {
            return None;
        }
        let mut modes = modes(fd)?;
        let were_on = modes.c_lflag & ECHO_FLAGS;
        if were_on == 0 {
            return None;
        }
        modes.c_lflag &= !ECHO_FLAGS;
        set_modes(fd, &modes).then_some(EchoOff { fd, were_on })
    }
}

impl Drop for EchoOff {
    /// Puts back only the flags it turned off, on the modes as they are now: a change made
    /// meanwhile by someone else stays.
    fn drop(&mut self) {
        if !in_foreground(self.fd) {
            return;
        }
        if let Some(mut modes) = modes(self.fd) {
            modes.c_lflag |= self.were_on;
            set_modes(self.fd, &modes);
        }
    }
}

/// Whether this process's group is the terminal's foreground group.
fn in_foreground(fd: RawFd) -> bool {
    // SAFETY: plain calls on a descriptor number; an invalid one makes them fail (-1).
    unsafe { libc::isatty(fd) == 1 && libc::tcgetpgrp(fd) == libc::getpgrp() }
}

fn modes(fd: RawFd) -> Option<libc::termios> {
    // SAFETY: tcgetattr fills the struct given, which lives across the call; on error the
    // zeroes are not used.
    let mut modes: libc::termios = unsafe { std::mem::zeroed() };
    (unsafe { libc::tcgetattr(fd, &mut modes) } == 0).then_some(modes)
}

fn set_modes(fd: RawFd, modes: &libc::termios) -> bool {
    // SAFETY: tcsetattr reads the struct given, which lives across the call.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, modes) == 0 }
}
