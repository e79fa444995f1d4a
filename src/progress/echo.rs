//! The terminal's own echo while the live area is drawn. indicatif leaves the cursor at the
//! right edge of the area's last line and redraws by moving up as many lines as it drew; a key
//! the terminal echoes there (`^C` when Ctrl+C stops the run, a new line for Enter) moves the
//! cursor a line down behind its back, and every redraw from then on leaves a stale line (the
//! bar) above. So, as long as the area is drawn, the terminal echoes nothing: Ctrl+C still
//! stops the run (the signal does not depend on the echo), and keys typed meanwhile still
//! reach the shell afterwards, which shows them as it reads them.

use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
use nix::unistd::{getpgrp, tcgetpgrp};
use std::io::{IsTerminal, Stderr};

/// The echo flags this turns off: the echo of typed keys, and of control keys as `^C`.
const ECHO_FLAGS: LocalFlags = LocalFlags::ECHO.union(LocalFlags::ECHOCTL);

/// The terminal on stderr with its echo off until dropped, when the flags that were on are put
/// back. Does nothing when stderr is not a terminal, or when labtrail is not in its foreground
/// (a background job that changed the terminal's modes would be stopped by SIGTTOU, and the
/// terminal is not its to change).
pub struct EchoOff {
    terminal: Stderr,
    /// The echo flags that were on, and are put back on drop.
    were_on: LocalFlags,
}

impl EchoOff {
    /// Turns the echo of the terminal on stderr off; `None` when there is nothing to turn off.
    pub fn on_stderr() -> Option<EchoOff> {
        let terminal = std::io::stderr();
        if !in_foreground(&terminal) {
            return None;
        }
        let mut modes = tcgetattr(&terminal).ok()?;
        let were_on = modes.local_flags & ECHO_FLAGS;
        if were_on.is_empty() {
            return None;
        }
        modes.local_flags.remove(ECHO_FLAGS);
        tcsetattr(&terminal, SetArg::TCSANOW, &modes).ok()?;
        Some(EchoOff { terminal, were_on })
    }
}

impl Drop for EchoOff {
    /// Puts back only the flags it turned off, on the modes as they are now: a change made
    /// meanwhile by someone else stays.
    fn drop(&mut self) {
        if !in_foreground(&self.terminal) {
            return;
        }
        if let Ok(mut modes) = tcgetattr(&self.terminal) {
            modes.local_flags.insert(self.were_on);
            let _ = tcsetattr(&self.terminal, SetArg::TCSANOW, &modes);
        }
    }
}

/// Whether this process's group is the terminal's foreground group.
fn in_foreground(terminal: &Stderr) -> bool {
    terminal.is_terminal() && tcgetpgrp(terminal).is_ok_and(|g| g == getpgrp())
}
