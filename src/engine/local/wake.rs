//! How the loop sleeps: until another thread has news or a deadline passes.
//!
//! News (a worker started or ended an attempt, the writer committed, a stop signal came) arrives
//! on a channel, each message announced by a byte on a pipe the loop polls with the deadline as
//! timeout.

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
    /// Queues `events` and wakes the loop, once for all of them. Fails once the loop is gone.
    pub fn send(&self, events: impl IntoIterator<Item = Event>) -> Result<(), ()> {
        for event in events {
            self.tx.send(event).map_err(|_| ())?;
        }
        // A full pipe already holds a wake-up; the write end is non-blocking, so never waits.
        let _ = (&*self.pipe).write(&[1]);
        Ok(())
    }
}

/// The loop's side.
pub(crate) struct Sleeper {
    rx: Receiver<Event>,
    news: UnixStream,
}

impl Sleeper {
    /// A sleeper and the waker that wakes it.
    pub fn new() -> io::Result<(Sleeper, Waker)> {
        let (news, news_w) = UnixStream::pair()?;
        for end in [&news, &news_w] {
            end.set_nonblocking(true)?;
        }
        let (tx, rx) = mpsc::channel();
        let waker = Waker {
            tx,
            pipe: Arc::new(news_w),
        };
        Ok((Sleeper { rx, news }, waker))
    }

    /// Sleeps until there is news or `timeout` passes, and returns the news.
    pub fn wait(&self, timeout: Duration) -> Vec<Event> {
        let mut events: Vec<Event> = self.rx.try_iter().collect();
        if events.is_empty() {
            let mut fd = libc::pollfd {
                fd: self.news.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // Rounded up: a deadline less than a millisecond away is a sleep, not a spin.
            let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
            // SAFETY: fd is a valid pollfd for the duration of the call.
            unsafe { libc::poll(&mut fd, 1, ms) };
        }
        drain(&self.news);
        events.extend(self.rx.try_iter());
        events
    }
}

/// Empties a non-blocking pipe.
fn drain(mut pipe: &UnixStream) {
    let mut buf = [0u8; 256];
    while matches!(pipe.read(&mut buf), Ok(n) if n > 0) {}
}
