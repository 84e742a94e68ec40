//! Signal delivery into the event loop through a self-pipe.
//!
//! The handler only writes the signal number into a non-blocking socket pair (a "pipe" that mio
//! can register without extra features; write(2) is async-signal-safe); the read end is
//! registered with mio, so the loop wakes up at once and handles the signal as an
//! ordinary event. SIGPIPE is ignored (a peer closing a socket must not kill the daemon).

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicI32, Ordering};

use mio::event::Source;
use mio::{Interest, Registry, Token};

/// What the loop does about a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM or SIGINT: clean shutdown, exit 0.
    Terminate(i32),
    /// SIGHUP: reload (decisions §7; not implemented yet).
    Hangup,
    /// SIGUSR1: statistics / status snapshot (decisions §7; not implemented yet).
    User1,
}

/// Signals routed into the loop.
pub const HANDLED: [libc::c_int; 4] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGUSR1];

/// Maps a signal number to what it means for the loop.
pub fn classify(signo: libc::c_int) -> Option<Signal> {
    match signo {
        libc::SIGTERM | libc::SIGINT => Some(Signal::Terminate(signo)),
        libc::SIGHUP => Some(Signal::Hangup),
        libc::SIGUSR1 => Some(Signal::User1),
        _ => None,
    }
}

static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signo: libc::c_int) {
    // SAFETY: errno is thread-local; saving and restoring it keeps the interrupted code intact.
    let errno = unsafe { *libc::__errno_location() };
    let fd = WRITE_FD.load(Ordering::Relaxed);
    // Signal numbers fit in a byte on Linux.
    let byte = u8::try_from(signo).unwrap_or(0);
    if fd >= 0 {
        // SAFETY: write(2) is async-signal-safe; a full pipe just drops the byte (the loop is
        // already awake then).
        unsafe { libc::write(fd, std::ptr::addr_of!(byte).cast(), 1) };
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// The read end of the self-pipe; register it with the loop's `Poll`.
#[derive(Debug)]
pub struct SignalPipe {
    read: mio::net::UnixDatagram,
    _write: UnixDatagram,
}

impl SignalPipe {
    /// Creates the pipe and installs the handlers (once per process: a later call replaces the
    /// pipe the handlers write to).
    pub fn install() -> io::Result<SignalPipe> {
        let (read, write) = UnixDatagram::pair()?;
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        WRITE_FD.store(write.as_raw_fd(), Ordering::Relaxed);
        for signo in HANDLED {
            set_action(
                signo,
                on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
            )?;
        }
        set_action(libc::SIGPIPE, libc::SIG_IGN)?;
        Ok(SignalPipe {
            read: mio::net::UnixDatagram::from_std(read),
            _write: write,
        })
    }

    /// Reads every pending signal and hands each to `f`.
    pub fn drain(&self, mut f: impl FnMut(Signal)) {
        let mut buf = [0u8; 1];
        // Each signal is one datagram; an error is WouldBlock (drained).
        while let Ok(1) = self.read.recv(&mut buf) {
            let [b] = buf;
            if let Some(sig) = classify(libc::c_int::from(b)) {
                f(sig);
            }
        }
    }
}

fn set_action(signo: libc::c_int, handler: libc::sighandler_t) -> io::Result<()> {
    // SAFETY: a zeroed sigaction is valid; the fields we need are set below.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = handler;
    sa.sa_flags = libc::SA_RESTART;
    // SAFETY: sa.sa_mask is a valid sigset_t owned by us.
    unsafe { libc::sigemptyset(&mut sa.sa_mask) };
    // SAFETY: sa is fully initialised; the old action is not needed.
    if unsafe { libc::sigaction(signo, &sa, std::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl Drop for SignalPipe {
    fn drop(&mut self) {
        // The handler must never write into a closed (and maybe reused) descriptor.
        let _ = WRITE_FD.compare_exchange(
            self._write.as_raw_fd(),
            -1,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }
}

/// Serialises the tests that install the process-wide handlers.
#[cfg(test)]
pub(crate) static TEST_SIGNAL_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Source for SignalPipe {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        self.read.register(r, t, i)
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        self.read.reregister(r, t, i)
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        self.read.deregister(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert_eq!(
            classify(libc::SIGTERM),
            Some(Signal::Terminate(libc::SIGTERM))
        );
        assert_eq!(
            classify(libc::SIGINT),
            Some(Signal::Terminate(libc::SIGINT))
        );
        assert_eq!(classify(libc::SIGHUP), Some(Signal::Hangup));
        assert_eq!(classify(libc::SIGUSR1), Some(Signal::User1));
        assert_eq!(classify(libc::SIGPIPE), None);
    }

    #[test]
    fn raised_signals_arrive_through_the_pipe_and_wake_poll() {
        let _g = TEST_SIGNAL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut pipe = SignalPipe::install().unwrap();
        let mut poll = mio::Poll::new().unwrap();
        poll.registry()
            .register(&mut pipe, Token(7), Interest::READABLE)
            .unwrap();
        // SAFETY: the handlers are installed; raise delivers to this thread.
        unsafe {
            libc::raise(libc::SIGHUP);
            libc::raise(libc::SIGUSR1);
            libc::raise(libc::SIGPIPE); // ignored, must not kill the test
        }
        let mut events = mio::Events::with_capacity(4);
        poll.poll(&mut events, Some(std::time::Duration::from_secs(2)))
            .unwrap();
        assert!(events.iter().any(|e| e.token() == Token(7)));
        let mut got = Vec::new();
        pipe.drain(|s| got.push(s));
        assert_eq!(got, [Signal::Hangup, Signal::User1]);
    }
}
