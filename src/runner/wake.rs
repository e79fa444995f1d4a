//! How the loop sleeps: until a child ends, another thread has news, or a deadline passes.
//!
//! A child's end arrives as SIGCHLD, whose handler writes a byte to a pipe the loop polls: the
//! loop itself reaps and starts the next task, with no thread in between (each thread hop is a
//! wake-up on the path from one task's end to the next one's start; measured, the loop starting
//! tasks itself beat launcher threads on 2 cores). News from the writer and the stop-signal thread
//! comes on a channel, each message announced by a byte on a second pipe.

use super::Event;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

/// The sending side, one per thread that has news for the loop.
#[derive(Clone)]
pub(crate) struct Waker {
    tx: Sender<Event>,
    pipe: Arc<UnixStream>,
}

impl Waker {
    /// Queues `event` and wakes the loop. Fails once the loop is gone.
    pub fn send(&self, event: Event) -> Result<(), ()> {
        self.tx.send(event).map_err(|_| ())?;
        // A full pipe already holds a wake-up; the write end is non-blocking, so never waits.
        let _ = (&*self.pipe).write(&[1]);
        Ok(())
    }
}

/// The loop's side.
pub(crate) struct Sleeper {
    rx: Receiver<Event>,
    news: UnixStream,
    children: UnixStream,
    sigchld: signal_hook::SigId,
}

impl Sleeper {
    /// Installs the SIGCHLD handler (removed when the sleeper is dropped).
    pub fn new() -> io::Result<(Sleeper, Waker)> {
        let (news, news_w) = UnixStream::pair()?;
        let (children, children_w) = UnixStream::pair()?;
        for end in [&news, &news_w, &children, &children_w] {
            end.set_nonblocking(true)?;
        }
        let sigchld = signal_hook::low_level::pipe::register(libc::SIGCHLD, children_w)?;
        let (tx, rx) = mpsc::channel();
        let waker = Waker {
            tx,
            pipe: Arc::new(news_w),
        };
        let sleeper = Sleeper {
            rx,
            news,
            children,
            sigchld,
        };
        Ok((sleeper, waker))
    }

    /// Sleeps until there is news or `timeout` passes. Returns the events, and whether to look
    /// for ended children: after a SIGCHLD, and after a timeout too, so that a lost signal delays
    /// an exit by one timeout at most.
    pub fn wait(&self, timeout: Duration) -> (Vec<Event>, bool) {
        let mut events: Vec<Event> = self.rx.try_iter().collect();
        let mut fds = [
            libc::pollfd {
                fd: self.news.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.children.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let mut timed_out = false;
        if events.is_empty() {
            // Rounded up: a deadline less than a millisecond away is a sleep, not a spin.
            let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
            // SAFETY: fds is a valid array of pollfd for the duration of the call.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
            timed_out = n == 0;
        }
        let child_ended = drain(&self.children);
        drain(&self.news);
        events.extend(self.rx.try_iter());
        (events, child_ended || timed_out)
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        signal_hook::low_level::unregister(self.sigchld);
    }
}

/// Empties a non-blocking pipe; whether it held anything.
fn drain(mut pipe: &UnixStream) -> bool {
    let mut buf = [0u8; 256];
    let mut any = false;
    while let Ok(n) = pipe.read(&mut buf) {
        if n == 0 {
            break;
        }
        any = true;
    }
    any
}
