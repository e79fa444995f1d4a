//! A pseudo-terminal for tests (issue 14): `labtrail` run inside util-linux `script`, and what
//! the terminal shows rebuilt from the bytes written to it ([`Screen`]), so that tests snapshot
//! the lines a user sees, not every redraw.
#![allow(dead_code)]

use crate::common::{wait_until, Exp};
use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a terminal shows after the bytes written so far: every line since the start (the
/// scrollback and the screen), the cursor moved by `\r`, `\n`, `ESC[nA`, `ESC[nB`, lines
/// erased by `ESC[K`/`ESC[2K`/`ESC[J`; colours and other sequences ignored.
#[derive(Default)]
pub struct Screen {
    lines: Vec<Vec<char>>,
    row: usize,
    col: usize,
    /// The terminal's width when the screen wraps lines as a terminal does ([`Screen::wrapped`]).
    cols: Option<usize>,
}

impl Screen {
    pub fn of(bytes: &[u8]) -> Screen {
        Screen::build(bytes, None)
    }

    /// As [`Screen::of`], on a terminal `cols` wide: a character written past the last column
    /// goes to the start of the next line (after the cursor was left at the right edge too, as
    /// indicatif leaves it), as a terminal wraps.
    pub fn wrapped(bytes: &[u8], cols: usize) -> Screen {
        Screen::build(bytes, Some(cols))
    }

    fn build(bytes: &[u8], cols: Option<usize>) -> Screen {
        let mut s = Screen {
            lines: vec![Vec::new()],
            cols,
            ..Screen::default()
        };
        let text = String::from_utf8_lossy(bytes);
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\r' => s.col = 0,
                '\n' => s.down(1),
                '\x1b' if chars.peek() == Some(&'[') => {
                    chars.next();
                    let mut params = String::new();
                    let mut last = ' ';
                    for c in chars.by_ref() {
                        if c.is_ascii_alphabetic() || c == '~' {
                            last = c;
                            break;
                        }
                        params.push(c);
                    }
                    let n: usize = params.parse().unwrap_or(1).max(1);
                    // A cursor movement leaves a pending wrap in the last column.
                    if let Some(cols) = s.cols {
                        s.col = s.col.min(cols - 1);
                    }
                    match (last, params.as_str()) {
                        ('A', _) => s.row = s.row.saturating_sub(n),
                        ('B', _) => s.down(n),
                        ('K', "2") => s.lines[s.row].clear(),
                        ('K', _) => s.lines[s.row].truncate(s.col),
                        ('J', "" | "0") => {
                            s.lines[s.row].truncate(s.col);
                            s.lines.truncate(s.row + 1);
                        }
                        _ => {}
                    }
                }
                c if c.is_control() => {}
                c => {
                    if s.cols.is_some_and(|cols| s.col >= cols) {
                        s.col = 0;
                        s.down(1);
                    }
                    let line = &mut s.lines[s.row];
                    while line.len() < s.col {
                        line.push(' ');
                    }
                    if s.col < line.len() {
                        line[s.col] = c;
                    } else {
                        line.push(c);
                    }
                    s.col += 1;
                }
            }
        }
        s
    }

    fn down(&mut self, n: usize) {
        self.row += n;
        while self.lines.len() <= self.row {
            self.lines.push(Vec::new());
        }
    }

    /// The non-empty lines, trailing blanks trimmed.
    pub fn text(&self) -> Vec<String> {
        self.lines
            .iter()
            .map(|l| l.iter().collect::<String>().trim_end().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    }
}

/// `labtrail ARGS` on a pseudo-terminal of `cols` × `rows`, its output collected as it comes.
pub struct OnTerminal {
    pub child: Child,
    pub out: Arc<Mutex<Vec<u8>>>,
    /// The keyboard: what is written here is typed on the terminal ([`OnTerminal::typing`]).
    keys: Option<ChildStdin>,
    cols: usize,
}

impl OnTerminal {
    pub fn start(exp: &Exp, args: &str, cols: u16, rows: u16) -> OnTerminal {
        OnTerminal::launch(exp, args, cols, rows, false, &[])
    }

    /// As [`OnTerminal::start`], with `env` set, and keys to type ([`OnTerminal::type_keys`]):
    /// the terminal turns them into signals and echoes them as a real one does.
    pub fn typing(exp: &Exp, args: &str, cols: u16, rows: u16, env: &[(&str, &str)]) -> OnTerminal {
        OnTerminal::launch(exp, args, cols, rows, true, env)
    }

    fn launch(
        exp: &Exp,
        args: &str,
        cols: u16,
        rows: u16,
        keyboard: bool,
        env: &[(&str, &str)],
    ) -> OnTerminal {
        let bin = env!("CARGO_BIN_EXE_labtrail");
        let inner = format!("stty cols {cols} rows {rows}; exec {bin} {args}");
        let mut command = Command::new("script");
        command
            .args(["-qfec", &inner, "/dev/null"])
            .current_dir(exp.path())
            .env_remove("LABTRAIL_STORE")
            .envs(env.iter().copied())
            .stdin(if keyboard {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = command.spawn().expect("util-linux script runs");
        let keys = child.stdin.take();
        let mut pipe = child.stdout.take().unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&out);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        OnTerminal {
            child,
            out,
            keys,
            cols: cols.into(),
        }
    }

    pub fn screen(&self) -> Screen {
        Screen::of(&self.out.lock().unwrap())
    }

    /// The screen with its lines wrapped at the terminal's width, as the terminal shows them.
    pub fn wrapped_screen(&self) -> Screen {
        Screen::wrapped(&self.out.lock().unwrap(), self.cols)
    }

    /// Types `keys` on the terminal (`\x03` is Ctrl+C, `\r` is Enter).
    pub fn type_keys(&mut self, keys: &[u8]) {
        let keyboard = self.keys.as_mut().expect("started with OnTerminal::typing");
        keyboard.write_all(keys).unwrap();
        keyboard.flush().unwrap();
    }

    /// Waits until the screen's lines satisfy `what`, and returns them.
    pub fn wait_for(&self, name: &str, what: impl Fn(&[String]) -> bool) -> Vec<String> {
        let mut last = Vec::new();
        let found = (0..1200).any(|_| {
            last = self.screen().text();
            what(&last) || {
                std::thread::sleep(Duration::from_millis(100));
                false
            }
        });
        assert!(
            found,
            "{name}: not shown within 120 s; the screen:\n{}",
            last.join("\n")
        );
        last
    }

    /// Waits for the end; returns the exit code and the final screen.
    pub fn finish(&mut self) -> (i32, Vec<String>) {
        let mut code = None;
        wait_until(
            "labtrail on the terminal to exit",
            Duration::from_secs(120),
            || {
                code = self.child.try_wait().unwrap();
                code.is_some()
            },
        );
        // The reader thread gets the last bytes when the pipe closes.
        std::thread::sleep(Duration::from_millis(200));
        (code.unwrap().code().unwrap_or(-1), self.screen().text())
    }
}

/// A test that fails before letting its tasks go must not leave them waiting: labtrail is
/// stopped (SIGTERM, which stops its tasks), then `script`.
impl Drop for OnTerminal {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let script = self.child.id().to_string();
        let _ = Command::new("pkill")
            .args(["-TERM", "-P", &script])
            .status();
        let _ = self.child.wait();
    }
}
