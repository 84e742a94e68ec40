//! The debug port's sockets: the TCP listener and one stream per client, driven by the event
//! loop's mio `Poll`. What each client is sent is decided by the pure
//! [`DebugClients`]; this module only moves bytes:
//! - every pending connection is accepted as soon as the listener is readable; a connection
//!   beyond the slots reads [`refusal`] and is closed;
//! - output is written straight to the socket as far as it takes it; WRITABLE interest is
//!   registered only while bytes wait;
//! - client input is read and discarded (the protocol has no commands).
//!
//! Shell integration (one mio `Poll`, `now` in milliseconds):
//! ```text
//! let addr = debug_log::listen_addr(cfg.debug_port, inbound_ip, debug_bind_ip);
//! let mut port = DebugPort::bind(addr)?;            // before daemonising / dropping privileges
//! port.set_mask(cfg.debug_level);
//! port.register(poll.registry(), Token(DEBUG_LISTENER), DEBUG_FIRST_CLIENT)?;
//! logging::set_hook(Box::new(DebugSink));           // impl LogHook: forward to DebugSink::record
//! loop {
//!     port.drain_log();                              // once per turn, right before poll
//!     poll.poll(&mut events, timeout)?;
//!     for ev in &events { if port.owns(ev.token()) { port.handle_event(poll.registry(), ev, now) } }
//! }
//! ```

use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;

use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};

use crate::debug_log::{refusal, ClientStatus, DebugClients};
use crate::limits::{DEBUG_LISTEN_BACKLOG, DEBUG_MAX_CLIENTS};
use crate::logging;

/// Client input read and discarded per readiness event, so a flooding client cannot hold the
/// loop; more input raises another event.
const READ_BUDGET: usize = 16 * 1024;

/// The debug-port listener and its client sockets (see the module documentation).
pub struct DebugPort {
    listener: TcpListener,
    local: SocketAddr,
    registry: Option<Registry>,
    listener_token: Token,
    first_client_token: usize,
    /// The socket of each slot of `clients`.
    streams: Box<[Option<TcpStream>]>,
    clients: DebugClients,
    /// The latest `now` seen, for the disconnect log of clients closed while writing.
    now: u64,
}

impl DebugPort {
    /// Binds the listener (non-blocking, SO_REUSEADDR, small backlog), preallocates every
    /// client ring and enables the `DebugSink` queue of this thread. siproxd only logs a
    /// bind failure and runs on; that choice is the caller's.
    pub fn bind(addr: SocketAddr) -> io::Result<DebugPort> {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )?;
        socket.set_reuse_address(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(DEBUG_LISTEN_BACKLOG)?;
        let listener = TcpListener::from_std(socket.into());
        let local = listener.local_addr()?;
        let clients = DebugClients::new();
        Ok(DebugPort {
            listener,
            local,
            registry: None,
            listener_token: Token(usize::MAX),
            first_client_token: usize::MAX,
            streams: (0..clients.capacity()).map(|_| None).collect(),
            clients,
            now: 0,
        })
    }

    /// Registers the listener under `listener_token`; clients will use the tokens
    /// `first_client_token .. first_client_token + DEBUG_MAX_CLIENTS`.
    pub fn register(
        &mut self,
        registry: &Registry,
        listener_token: Token,
        first_client_token: usize,
    ) -> io::Result<()> {
        let clash = first_client_token
            .checked_add(DEBUG_MAX_CLIENTS)
            .is_none_or(|end| (first_client_token..end).contains(&listener_token.0));
        if clash {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "debug port: client tokens overflow or include the listener token",
            ));
        }
        registry.register(&mut self.listener, listener_token, Interest::READABLE)?;
        self.registry = Some(registry.try_clone()?);
        self.listener_token = listener_token;
        self.first_client_token = first_client_token;
        Ok(())
    }

    /// The bound address (the port is known here when binding to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Sets the `debug_level` mask shown in banners and used by `DebugSink::wants`.
    pub fn set_mask(&mut self, mask: u32) {
        self.clients.set_mask(mask);
    }

    pub fn mask(&self) -> u32 {
        self.clients.mask()
    }

    /// Whether `token` belongs to the port (its listener or a client slot).
    pub fn owns(&self, token: Token) -> bool {
        self.registry.is_some() && (token == self.listener_token || self.slot_of(token).is_some())
    }

    fn slot_of(&self, token: Token) -> Option<usize> {
        token
            .0
            .checked_sub(self.first_client_token)
            .filter(|i| *i < self.streams.len())
    }

    fn token_of(&self, slot: usize) -> Token {
        Token(self.first_client_token.saturating_add(slot))
    }

    /// Connected clients.
    pub fn client_count(&self) -> usize {
        self.clients.client_count()
    }

    pub fn clients(&self) -> impl Iterator<Item = ClientStatus> + '_ {
        self.clients.clients()
    }

    /// Handles a readiness event of one of the port's tokens (others are ignored): accepts
    /// every pending connection, discards client input, closes clients at EOF or error,
    /// flushes waiting output. `now` is in milliseconds.
    pub fn handle_event(&mut self, registry: &Registry, event: &Event, now: u64) {
        self.now = now;
        let token = event.token();
        if token == self.listener_token {
            self.accept_all(registry, now);
            return;
        }
        let Some(slot) = self.slot_of(token) else {
            return;
        };
        // An error event is read too, so that a reset is told apart from other errors.
        let result = if event.is_readable() || event.is_read_closed() || event.is_error() {
            self.discard_input(registry, slot)
                .map(|open| open && !event.is_error() && !event.is_write_closed())
        } else {
            Ok(true)
        };
        match result {
            Ok(true) => {}
            Ok(false) => return self.close(registry, slot, "disconnected"),
            // A client closing with unread output resets the connection: a normal goodbye.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                return self.close(registry, slot, "disconnected (reset)");
            }
            Err(e) => {
                log::debug!(target: logging::NET, "debug port: client error: {e}");
                return self.close(registry, slot, "connection error");
            }
        }
        if event.is_writable() {
            self.flush_or_close(registry, slot);
        }
    }

    fn accept_all(&mut self, registry: &Registry, now: u64) {
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => self.admit(registry, stream, peer, now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(e) => {
                    // E.g. out of descriptors: the rest is accepted with the next connection.
                    log::warn!("debug port: accept failed: {e}");
                    break;
                }
            }
        }
    }

    fn admit(&mut self, registry: &Registry, mut stream: TcpStream, peer: SocketAddr, now: u64) {
        let Some(slot) = self.clients.free_slot() else {
            // Best effort: a fresh socket's send buffer takes one short line.
            let _ = stream.write(refusal().as_bytes());
            log::info!(
                "debug port: rejected connection from {peer}: all {DEBUG_MAX_CLIENTS} slots in use"
            );
            return;
        };
        let token = self.token_of(slot);
        if let Err(e) = registry.register(&mut stream, token, Interest::READABLE) {
            log::warn!("debug port: cannot register connection from {peer}: {e}");
            return;
        }
        let Some(entry) = self.streams.get_mut(slot) else {
            let _ = registry.deregister(&mut stream);
            return;
        };
        *entry = Some(stream);
        if self.clients.admit(slot, peer, now) {
            self.flush_or_close(registry, slot);
        }
    }

    fn close(&mut self, registry: &Registry, slot: usize, why: &str) {
        if let Some(mut stream) = self.streams.get_mut(slot).and_then(Option::take) {
            let _ = registry.deregister(&mut stream);
        }
        self.clients.close(slot, self.now, why);
    }

    /// Writes what waits for `slot`; a write error means the client is gone.
    fn flush_or_close(&mut self, registry: &Registry, slot: usize) {
        if let Err(e) = self.flush(registry, slot) {
            log::debug!(target: logging::NET, "debug port: write failed: {e}");
            self.close(registry, slot, "write failed");
        }
    }

    /// Writes as much of the slot's output as the socket takes; registers WRITABLE interest
    /// only while bytes remain.
    fn flush(&mut self, registry: &Registry, slot: usize) -> io::Result<()> {
        let token = self.token_of(slot);
        let Some(stream) = self.streams.get_mut(slot).and_then(Option::as_mut) else {
            return Ok(());
        };
        loop {
            let (a, b) = self.clients.output(slot);
            if a.is_empty() {
                break;
            }
            match stream.write_vectored(&[IoSlice::new(a), IoSlice::new(b)]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.clients.consume(slot, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !self.clients.is_blocked(slot) {
                        registry.reregister(
                            stream,
                            token,
                            Interest::READABLE | Interest::WRITABLE,
                        )?;
                        self.clients.set_blocked(slot, true);
                    }
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        if self.clients.is_blocked(slot) {
            registry.reregister(stream, token, Interest::READABLE)?;
            self.clients.set_blocked(slot, false);
        }
        Ok(())
    }

    /// Reads and discards client input (the protocol has no commands). `Ok(false)` at EOF.
    fn discard_input(&mut self, registry: &Registry, slot: usize) -> io::Result<bool> {
        let token = self.token_of(slot);
        let blocked = self.clients.is_blocked(slot);
        let Some(stream) = self.streams.get_mut(slot).and_then(Option::as_mut) else {
            return Ok(false);
        };
        let mut scratch = [0u8; 1024];
        let mut budget = READ_BUDGET;
        while budget > 0 {
            match stream.read(&mut scratch) {
                Ok(0) => return Ok(false),
                Ok(n) => budget = budget.saturating_sub(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) => return Err(e),
            }
        }
        // Budget spent with input left: re-arming the edge-triggered registration reports
        // it again on the next poll, after the other sockets had their turn.
        let interest = if blocked {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        registry.reregister(stream, token, interest)?;
        Ok(true)
    }

    /// Appends one log line (a trailing newline is optional; embedded newlines make several
    /// lines) to every client and writes as far as each socket takes it. Never blocks or
    /// allocates.
    pub fn push_record(&mut self, line: &str) {
        self.clients.push_record(line);
        self.flush_all();
    }

    /// Moves the text queued by `DebugSink` since the last call to the clients. Call once
    /// per loop turn, before polling.
    pub fn drain_log(&mut self) {
        if self.clients.drain_log() {
            self.flush_all();
        }
    }

    /// Writes waiting output of clients not waiting for WRITABLE.
    fn flush_all(&mut self) {
        let Some(registry) = self.registry.take() else {
            return;
        };
        for slot in 0..self.streams.len() {
            if self.clients.is_connected(slot) && !self.clients.is_blocked(slot) {
                self.flush_or_close(&registry, slot);
            }
        }
        self.registry = Some(registry);
    }
}
