//! The debug port on loopback driven by a mio loop, as the shell drives it.
#![allow(dead_code)] // each test binary uses part of this module
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failed set-up panics, as a test should

use std::io::BufReader;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};
use siproxd_rs::net::debug_port::DebugPort;

/// How long [`Loop::turn_until`] waits.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct Loop {
    pub poll: Poll,
    pub events: Events,
    pub port: DebugPort,
    pub start: Instant,
}

impl Loop {
    /// A port on `ip` (any free port) with the listener on `listener` and clients from
    /// `first_client`.
    pub fn bind(ip: &str, listener: Token, first_client: usize) -> Loop {
        let poll = Poll::new().unwrap();
        let mut port = DebugPort::bind(format!("{ip}:0").parse().unwrap()).unwrap();
        port.register(poll.registry(), listener, first_client)
            .unwrap();
        Loop {
            poll,
            events: Events::with_capacity(64),
            port,
            start: Instant::now(),
        }
    }

    /// One loop iteration as the shell runs it: drain the log, poll, hand events to the port.
    pub fn turn(&mut self, timeout: Duration) {
        self.port.drain_log();
        self.poll.poll(&mut self.events, Some(timeout)).unwrap();
        let now = self.start.elapsed().as_millis() as u64;
        for ev in self.events.iter() {
            assert!(self.port.owns(ev.token()), "foreign token {ev:?}");
            self.port.handle_event(self.poll.registry(), ev, now);
        }
    }

    /// Turns until `done`; panics naming `what` after [`WAIT`].
    pub fn turn_until(&mut self, what: &str, done: impl Fn(&DebugPort) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(&self.port) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            self.turn(Duration::from_millis(10));
        }
    }
    pub fn addr(&self) -> SocketAddr {
        self.port.local_addr()
    }

    pub fn connect(&mut self) -> TcpStream {
        let s = TcpStream::connect(self.addr()).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        s
    }

    /// Connects and waits until the port has accepted it.
    pub fn client(&mut self) -> BufReader<TcpStream> {
        let n = self.port.client_count();
        let s = self.connect();
        self.turn_until("accept", |p| p.client_count() == n + 1);
        BufReader::new(s)
    }

    /// A client with a small receive window, so that not reading fills the port's side
    /// soon instead of after megabytes of kernel buffering (loopback autotuning).
    pub fn small_window_client(&mut self) -> BufReader<TcpStream> {
        let n = self.port.client_count();
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.set_recv_buffer_size(4096).unwrap();
        sock.connect(&self.addr().into()).unwrap();
        let s: TcpStream = sock.into();
        s.set_read_timeout(Some(WAIT)).unwrap();
        self.turn_until("accept", |p| p.client_count() == n + 1);
        BufReader::new(s)
    }

    pub fn pending_of(&self, client: SocketAddr) -> usize {
        self.status(client).pending
    }

    pub fn status(&self, client: SocketAddr) -> siproxd_rs::debug_log::ClientStatus {
        self.port
            .clients()
            .find(|c| c.peer == client)
            .expect("client not connected")
    }
}
