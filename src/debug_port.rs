//! Remote debug log over TCP: the `debug_port` and `debug_bind` directives (decisions §8,
//! behaviour §7.2).
//!
//! Plain text, one way: each client first gets a banner (version, pid, `debug_level` mask), then
//! every log record the logger hands to [`DebugSink`], whatever `silence_log` says. Where siproxd
//! serves one client, accepts only on its 5-second tick and may block on a slow reader, here:
//! - every pending connection is accepted as soon as the listener is readable; up to
//!   [`DEBUG_MAX_CLIENTS`] are served, a further one reads [`refusal`] and is closed;
//! - each client has a preallocated ring of [`DEBUG_CLIENT_BUFFER`] bytes ([`Outbox`]). Lines are
//!   written straight to the socket as far as it takes them; the rest waits in the ring and
//!   WRITABLE interest is registered only while it does. A full ring drops whole lines and
//!   counts them; once space returns the client reads `[N lines dropped]` before newer lines.
//!   A client that stops reading therefore costs a counter increment per line, never a wait;
//! - the listener binds to the inbound address unless `debug_bind` names another
//!   ([`listen_addr`]), so it is not reachable from the WAN side by default.
//!
//! How the logger feeds the port without owning it: the process is single-threaded, so the
//! queue between them is a thread-local bounded byte buffer ([`DEBUG_SINK_BUFFER`]). The
//! logger calls [`DebugSink::record`] (a zero-sized, `Send + Sync` handle, fit for
//! `logging::set_hook`), which only appends text to that buffer; the event loop moves the text
//! to the clients once per turn with [`DebugPort::drain_log`]. The sink never calls into the
//! port, so a record logged by the port itself (accept, disconnect) is queued for the next turn
//! instead of recursing, and a record logged while the queue is being written is dropped.
//! Records logged on other threads are ignored. When the queue fills between two turns, later
//! records are dropped (keeping order) and the clients get the same `[N lines dropped]` marker.
//!
//! Shell integration (one mio `Poll`, `now` in milliseconds):
//! ```text
//! let addr = debug_port::listen_addr(cfg.debug_port, inbound_ip, debug_bind_ip);
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

use std::fmt::{self, Write as _};
use std::io::{self, IoSlice, Read, Write};
use std::net::{IpAddr, SocketAddr};

use log::Level;
use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};

use crate::limits::{
    DEBUG_CLIENT_BUFFER, DEBUG_LISTEN_BACKLOG, DEBUG_MAX_CLIENTS, DEBUG_SINK_BUFFER,
};
use crate::logging;

/// Longest `[N lines dropped]\n` marker (N up to 20 digits); an empty ring has room for it
/// beside the longest line.
const MARKER_MAX: usize = 40;
/// Client input read and discarded per readiness event, so a flooding client cannot hold the
/// loop; more input raises another event.
const READ_BUDGET: usize = 16 * 1024;
/// Banner line capacity (version, pid, mask and the names of all classes fit).
pub const BANNER_MAX: usize = 256;

/// Where the listener binds: the `debug_bind` address if set, else the inbound address.
pub fn listen_addr(port: u16, inbound: IpAddr, debug_bind: Option<IpAddr>) -> SocketAddr {
    SocketAddr::new(debug_bind.unwrap_or(inbound), port)
}

/// The line a client gets when all slots are taken.
pub fn refusal() -> heapless::String<64> {
    let mut s = heapless::String::new();
    // 44 bytes for any DEBUG_MAX_CLIENTS below 10^16: the write cannot fail.
    let _ = writeln!(
        s,
        "siproxd-rs: too many debug clients (max {DEBUG_MAX_CLIENTS})"
    );
    s
}

/// The first line a client reads, e.g.
/// `siproxd-rs 0.1.0 debug log, pid 812, debug_level 0x0204 (sip rtp)`.
pub fn banner(version: &str, pid: u32, mask: u32) -> heapless::String<BANNER_MAX> {
    let mut s = heapless::String::new();
    if write_banner(&mut s, version, pid, mask).is_err() {
        // Only an absurdly long version string gets here: leave the version out.
        s.clear();
        let _ = write!(
            s,
            "siproxd-rs debug log, pid {pid}, debug_level 0x{mask:04x}"
        );
    }
    s
}

fn write_banner(out: &mut impl fmt::Write, version: &str, pid: u32, mask: u32) -> fmt::Result {
    write!(
        out,
        "siproxd-rs {version} debug log, pid {pid}, debug_level 0x{mask:04x} ("
    )?;
    let mut first = true;
    for (name, bit) in logging::CLASSES {
        if mask & bit != 0 {
            out.write_str(if first { "" } else { " " })?;
            out.write_str(name)?;
            first = false;
        }
    }
    out.write_str(if first { "no debug classes)" } else { ")" })
}

/// One client's output: a fixed ring of whole lines plus the count of lines dropped since the
/// last marker. Sans-IO; the port moves its bytes to the socket.
#[derive(Debug)]
pub struct Outbox {
    buf: Box<[u8]>,
    head: usize,
    len: usize,
    dropped: u64,
    lost: u64,
}

impl Outbox {
    /// Allocates the ring once; nothing grows afterwards.
    pub fn new(capacity: usize) -> Self {
        Outbox {
            buf: vec![0; capacity].into_boxed_slice(),
            head: 0,
            len: 0,
            dropped: 0,
            lost: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Bytes waiting to be written.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Lines dropped and not yet announced by a marker.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Lines dropped since the last [`clear`](Self::clear), announced or not.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    fn free(&self) -> usize {
        self.capacity().saturating_sub(self.len)
    }

    /// Longest line kept: an empty ring always has room for it, its newline and a marker.
    fn max_line(&self) -> usize {
        self.capacity().saturating_sub(MARKER_MAX + 1)
    }

    /// Forgets everything (a new client starts clean).
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
        self.dropped = 0;
        self.lost = 0;
    }

    /// Appends `line` and a newline (one trailing newline of `line` is not doubled), or drops
    /// and counts it when it does not fit or earlier drops are not yet announced. Over-long
    /// lines are truncated. Returns whether the line was kept.
    pub fn push_line(&mut self, line: &[u8]) -> bool {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.get(..self.max_line()).unwrap_or(line);
        // A marker only where the line fits behind it: a ring that is still full would
        // otherwise interleave markers with single drops.
        self.settle_with_room(line.len().saturating_add(1));
        if self.dropped == 0 && self.free() > line.len() {
            self.put(line);
            self.put(b"\n");
            true
        } else {
            self.note_dropped(1);
            false
        }
    }

    /// Counts `n` lines lost before they reached this box (the sink's queue overflowed).
    pub fn note_dropped(&mut self, n: u64) {
        self.dropped = self.dropped.saturating_add(n);
        self.lost = self.lost.saturating_add(n);
    }

    /// Writes the `[N lines dropped]` marker if lines were dropped and it fits now.
    pub fn settle(&mut self) {
        self.settle_with_room(0);
    }

    fn settle_with_room(&mut self, room_after: usize) {
        if self.dropped == 0 {
            return;
        }
        let mut marker: heapless::String<MARKER_MAX> = heapless::String::new();
        if writeln!(marker, "[{} lines dropped]", self.dropped).is_ok()
            && self.free() >= marker.len().saturating_add(room_after)
        {
            self.put(marker.as_bytes());
            self.dropped = 0;
        }
    }

    /// The waiting bytes in order, as the two parts of the ring (the second may be empty).
    pub fn pending(&self) -> (&[u8], &[u8]) {
        let cap = self.capacity();
        let first_len = self.len.min(cap.saturating_sub(self.head));
        let first = self
            .buf
            .get(self.head..self.head.saturating_add(first_len))
            .unwrap_or_default();
        let second = self
            .buf
            .get(..self.len.saturating_sub(first_len))
            .unwrap_or_default();
        (first, second)
    }

    /// Marks `n` waiting bytes as written.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.len -= n;
        self.head = if self.len == 0 {
            0
        } else {
            self.head.saturating_add(n) % self.capacity().max(1)
        };
    }

    /// Copies `bytes` behind the waiting ones; the caller checked that they fit.
    fn put(&mut self, mut bytes: &[u8]) {
        let cap = self.capacity();
        while !bytes.is_empty() && self.free() > 0 {
            let tail = self.head.saturating_add(self.len) % cap;
            let n = bytes.len().min(cap.saturating_sub(tail)).min(self.free());
            let (Some(dst), Some(src)) = (
                self.buf.get_mut(tail..tail.saturating_add(n)),
                bytes.get(..n),
            ) else {
                return;
            };
            dst.copy_from_slice(src);
            self.len = self.len.saturating_add(n);
            bytes = bytes.get(n..).unwrap_or_default();
        }
    }
}

/// The state of one connected client, for statistics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientStatus {
    pub peer: SocketAddr,
    /// Bytes waiting in its ring.
    pub pending: usize,
    /// Lines dropped and not yet announced to it.
    pub dropped: u64,
    /// Lines dropped since it connected.
    pub lost: u64,
    /// Whether the socket refused more data and WRITABLE interest is registered.
    pub blocked: bool,
}

struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    since: u64,
    /// The socket said WouldBlock: WRITABLE interest is registered and writes wait for it.
    blocked: bool,
}

struct Client {
    conn: Option<Conn>,
    out: Outbox,
}

impl Client {
    /// Writes as much of the ring as the socket takes; registers WRITABLE interest only
    /// while bytes remain. An error means the client is gone.
    fn flush(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        loop {
            self.out.settle();
            let (a, b) = self.out.pending();
            if a.is_empty() {
                break;
            }
            match conn
                .stream
                .write_vectored(&[IoSlice::new(a), IoSlice::new(b)])
            {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.out.consume(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !conn.blocked {
                        registry.reregister(
                            &mut conn.stream,
                            token,
                            Interest::READABLE | Interest::WRITABLE,
                        )?;
                        conn.blocked = true;
                    }
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        if conn.blocked {
            registry.reregister(&mut conn.stream, token, Interest::READABLE)?;
            conn.blocked = false;
        }
        Ok(())
    }

    /// Reads and discards client input (the protocol has no commands). `Ok(false)` at EOF.
    fn discard_input(&mut self, registry: &Registry, token: Token) -> io::Result<bool> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(false);
        };
        let mut scratch = [0u8; 1024];
        let mut budget = READ_BUDGET;
        while budget > 0 {
            match conn.stream.read(&mut scratch) {
                Ok(0) => return Ok(false),
                Ok(n) => budget = budget.saturating_sub(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) => return Err(e),
            }
        }
        // Budget spent with input left: re-arming the edge-triggered registration reports
        // it again on the next poll, after the other sockets had their turn.
        let interest = if conn.blocked {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        registry.reregister(&mut conn.stream, token, interest)?;
        Ok(true)
    }
}

/// The debug-port listener and its clients, driven by the shell's mio loop (see the module
/// documentation). One per thread: it drains that thread's [`DebugSink`] queue.
pub struct DebugPort {
    listener: TcpListener,
    local: SocketAddr,
    registry: Option<Registry>,
    listener_token: Token,
    first_client_token: usize,
    clients: Box<[Client]>,
    /// Swapped with the sink's queue on each drain, so neither side allocates.
    spare: Vec<u8>,
    mask: u32,
    /// The latest `now` seen, for the disconnect log of clients closed while writing.
    now: u64,
}

impl DebugPort {
    /// Binds the listener (non-blocking, SO_REUSEADDR, small backlog), preallocates every
    /// client ring and enables the [`DebugSink`] queue of this thread. siproxd only logs a
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
        let clients = (0..DEBUG_MAX_CLIENTS)
            .map(|_| Client {
                conn: None,
                out: Outbox::new(DEBUG_CLIENT_BUFFER),
            })
            .collect();
        sink::enable();
        Ok(DebugPort {
            listener,
            local,
            registry: None,
            listener_token: Token(usize::MAX),
            first_client_token: usize::MAX,
            clients,
            spare: Vec::with_capacity(DEBUG_SINK_BUFFER),
            mask: 0,
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

    /// Sets the `debug_level` mask shown in banners and used by [`DebugSink::wants`].
    pub fn set_mask(&mut self, mask: u32) {
        self.mask = mask;
        sink::set_mask(mask);
    }

    pub fn mask(&self) -> u32 {
        self.mask
    }

    /// Whether `token` belongs to the port (its listener or a client slot).
    pub fn owns(&self, token: Token) -> bool {
        self.registry.is_some() && (token == self.listener_token || self.slot_of(token).is_some())
    }

    fn slot_of(&self, token: Token) -> Option<usize> {
        token
            .0
            .checked_sub(self.first_client_token)
            .filter(|i| *i < self.clients.len())
    }

    fn token_of(&self, slot: usize) -> Token {
        Token(self.first_client_token.saturating_add(slot))
    }

    /// Connected clients.
    pub fn client_count(&self) -> usize {
        self.clients.iter().filter(|c| c.conn.is_some()).count()
    }

    pub fn clients(&self) -> impl Iterator<Item = ClientStatus> + '_ {
        self.clients.iter().filter_map(|c| {
            c.conn.as_ref().map(|conn| ClientStatus {
                peer: conn.peer,
                pending: c.out.len(),
                dropped: c.out.dropped(),
                lost: c.out.lost(),
                blocked: conn.blocked,
            })
        })
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
        let Some(client) = self.clients.get_mut(slot) else {
            return;
        };
        // An error event is read too, so that a reset is told apart from other errors.
        let result = if event.is_readable() || event.is_read_closed() || event.is_error() {
            client
                .discard_input(registry, token)
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
            if let Err(e) = client.flush(registry, token) {
                log::debug!(target: logging::NET, "debug port: write failed: {e}");
                self.close(registry, slot, "write failed");
            }
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
        let Some(slot) = self.clients.iter().position(|c| c.conn.is_none()) else {
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
        let banner = banner(env!("CARGO_PKG_VERSION"), std::process::id(), self.mask);
        let Some(client) = self.clients.get_mut(slot) else {
            return;
        };
        client.out.clear();
        client.out.push_line(banner.as_bytes());
        client.conn = Some(Conn {
            stream,
            peer,
            since: now,
            blocked: false,
        });
        sink::client_joined();
        log::info!(
            "debug port: accepted connection from {peer}, debug_level 0x{:04x}",
            self.mask
        );
        if let Err(e) = client.flush(registry, token) {
            log::debug!(target: logging::NET, "debug port: write failed: {e}");
            self.close(registry, slot, "write failed");
        }
    }

    fn close(&mut self, registry: &Registry, slot: usize, why: &str) {
        let Some(client) = self.clients.get_mut(slot) else {
            return;
        };
        let Some(mut conn) = client.conn.take() else {
            return;
        };
        let _ = registry.deregister(&mut conn.stream);
        let lost = client.out.lost();
        client.out.clear();
        let secs = self.now.saturating_sub(conn.since) / 1000;
        log::info!(
            "debug port: {why}: {} after {secs} s, {lost} lines lost",
            conn.peer
        );
        sink::client_left();
    }

    /// Appends one log line (a trailing newline is optional; embedded newlines make several
    /// lines) to every client and writes as far as each socket takes it. Never blocks or
    /// allocates.
    pub fn push_record(&mut self, line: &str) {
        let line = line.strip_suffix('\n').unwrap_or(line);
        for client in self.clients.iter_mut().filter(|c| c.conn.is_some()) {
            for part in line.split('\n') {
                client.out.push_line(part.as_bytes());
            }
        }
        self.flush_all();
    }

    /// Moves the text queued by [`DebugSink`] since the last call to the clients. Call once
    /// per loop turn, before polling.
    pub fn drain_log(&mut self) {
        let dropped = sink::take(&mut self.spare);
        let text = std::mem::take(&mut self.spare);
        if !text.is_empty() || dropped > 0 {
            for client in self.clients.iter_mut().filter(|c| c.conn.is_some()) {
                if let Some(body) = text.strip_suffix(b"\n") {
                    for line in body.split(|b| *b == b'\n') {
                        client.out.push_line(line);
                    }
                }
                client.out.note_dropped(dropped);
            }
            self.flush_all();
        }
        self.spare = text;
        self.spare.clear();
    }

    /// Writes waiting output of clients not waiting for WRITABLE.
    fn flush_all(&mut self) {
        let Some(registry) = self.registry.take() else {
            return;
        };
        for slot in 0..self.clients.len() {
            let token = self.token_of(slot);
            let Some(client) = self.clients.get_mut(slot) else {
                continue;
            };
            if client.conn.as_ref().is_none_or(|c| c.blocked) {
                continue;
            }
            if let Err(e) = client.flush(&registry, token) {
                log::debug!(target: logging::NET, "debug port: write failed: {e}");
                self.close(&registry, slot, "write failed");
            }
        }
        self.registry = Some(registry);
    }
}

impl Drop for DebugPort {
    fn drop(&mut self) {
        sink::disable(u32::try_from(self.client_count()).unwrap_or(u32::MAX));
    }
}

/// The logger's handle on the debug port of this thread (see the module documentation).
/// Zero-sized and `Send + Sync`, so it can live in a process-wide logger.
#[derive(Debug, Clone, Copy, Default)]
pub struct DebugSink;

impl DebugSink {
    /// Whether a record would reach a client: a client is connected, and the record is info
    /// or above, or a debug record whose class bit is in the port's mask (independent of
    /// `silence_log`). Lets the logger skip formatting when nobody listens.
    pub fn wants(&self, level: Level, class_bit: Option<u32>) -> bool {
        let (listening, mask) = sink::state();
        listening
            && match level {
                Level::Error | Level::Warn | Level::Info => true,
                Level::Debug | Level::Trace => class_bit.is_some_and(|bit| mask & bit != 0),
            }
    }

    /// Queues one record as the stderr sink prints it: `HH:MM:SS.mmm LABEL text` (local
    /// time; labels `ERROR: `, `WARNING: `, `INFO: `, or the class target for debug).
    /// Dropped at once when no client is connected. Never blocks, allocates or logs.
    pub fn record(&self, level: Level, target: &str, text: &str) {
        sink::push(text, |w| {
            write_clock(w)?;
            match level {
                Level::Error => w.write_str(" ERROR: "),
                Level::Warn => w.write_str(" WARNING: "),
                Level::Info => w.write_str(" INFO: "),
                Level::Debug | Level::Trace => write!(w, " {target}: "),
            }?;
            w.write_str(text)
        });
    }

    /// Queues `text` as it is (one or more lines).
    pub fn push_line(&self, text: &str) {
        sink::push(text, |w| w.write_str(text));
    }
}

/// Local wall-clock time `HH:MM:SS.mmm`, as the stderr sink prints it.
fn write_clock(w: &mut impl fmt::Write) -> fmt::Result {
    let t = crate::logging::LocalTime::now();
    write!(w, "{:02}:{:02}:{:02}.{:03}", t.hour, t.min, t.sec, t.millis)
}

/// The thread-local queue between [`DebugSink`] and [`DebugPort::drain_log`].
mod sink {
    use std::cell::RefCell;
    use std::fmt;

    use crate::limits::DEBUG_SINK_BUFFER;

    pub(super) struct Sink {
        /// Newline-terminated records; never grows past `DEBUG_SINK_BUFFER` (its capacity is
        /// at least that while a port exists).
        queue: Vec<u8>,
        /// Ports alive on this thread (more than one only while the shell rebinds).
        ports: u32,
        /// Clients connected to them; records are queued only while there are some.
        clients: u32,
        /// Lines lost since the last drain; once one is lost, all later ones are too, so
        /// the marker sits exactly where the gap is.
        dropped: u64,
        mask: u32,
    }

    impl Sink {
        fn listening(&self) -> bool {
            self.ports > 0 && self.clients > 0
        }

        fn reset_queue(&mut self) {
            self.queue.clear();
            self.dropped = 0;
        }
    }

    thread_local! {
        pub(super) static SINK: RefCell<Sink> = const {
            RefCell::new(Sink { queue: Vec::new(), ports: 0, clients: 0, dropped: 0, mask: 0 })
        };
    }

    /// Runs `f` on this thread's sink unless it is busy (a record logged while one is being
    /// queued) or gone (thread exit); the record is then lost, which ends any recursion.
    fn with<R>(f: impl FnOnce(&mut Sink) -> R) -> Option<R> {
        SINK.try_with(|s| s.try_borrow_mut().ok().map(|mut s| f(&mut s)))
            .ok()
            .flatten()
    }

    /// A port was bound on this thread.
    pub(super) fn enable() {
        with(|s| {
            if s.queue.capacity() < DEBUG_SINK_BUFFER {
                s.queue = Vec::with_capacity(DEBUG_SINK_BUFFER);
            }
            s.ports = s.ports.saturating_add(1);
        });
    }

    /// A port with `clients` connected clients was dropped; the last one frees the queue.
    pub(super) fn disable(clients: u32) {
        with(|s| {
            s.ports = s.ports.saturating_sub(1);
            s.clients = s.clients.saturating_sub(clients);
            if s.ports == 0 {
                s.queue = Vec::new();
                s.clients = 0;
                s.dropped = 0;
            } else if s.clients == 0 {
                s.reset_queue();
            }
        });
    }

    pub(super) fn client_joined() {
        with(|s| {
            if s.ports > 0 {
                s.clients = s.clients.saturating_add(1);
            }
        });
    }

    pub(super) fn client_left() {
        with(|s| {
            s.clients = s.clients.saturating_sub(1);
            if s.clients == 0 {
                s.reset_queue();
            }
        });
    }

    pub(super) fn set_mask(mask: u32) {
        with(|s| s.mask = mask);
    }

    pub(super) fn state() -> (bool, u32) {
        with(|s| (s.listening(), s.mask)).unwrap_or((false, 0))
    }

    /// Appends the record `write` produces plus a newline, all or nothing. `text` is the
    /// record's text, for counting its lines if it is dropped.
    pub(super) fn push(text: &str, write: impl FnOnce(&mut Bounded<'_>) -> fmt::Result) {
        with(|s| {
            if !s.listening() {
                return;
            }
            let body = text.strip_suffix('\n').unwrap_or(text);
            let lines = 1 + body.bytes().filter(|b| *b == b'\n').count() as u64;
            if s.dropped == 0 {
                let start = s.queue.len();
                let mut w = Bounded {
                    buf: &mut s.queue,
                    cap: DEBUG_SINK_BUFFER,
                };
                let ok = write(&mut w).is_ok() && w.end_line().is_ok();
                if ok {
                    return;
                }
                s.queue.truncate(start);
            }
            s.dropped = s.dropped.saturating_add(lines);
        });
    }

    /// Swaps the queued text into `out` (an empty buffer of the same capacity) and returns
    /// the number of lines dropped since the last call.
    pub(super) fn take(out: &mut Vec<u8>) -> u64 {
        with(|s| {
            out.clear();
            if s.queue.is_empty() {
                return std::mem::take(&mut s.dropped);
            }
            std::mem::swap(&mut s.queue, out);
            std::mem::take(&mut s.dropped)
        })
        .unwrap_or(0)
    }

    /// A `fmt::Write` into the queue that fails instead of growing past `cap`.
    pub(super) struct Bounded<'a> {
        buf: &'a mut Vec<u8>,
        cap: usize,
    }

    impl Bounded<'_> {
        /// Terminates the record with exactly one newline.
        fn end_line(&mut self) -> fmt::Result {
            if self.buf.last() == Some(&b'\n') {
                Ok(())
            } else {
                fmt::Write::write_str(self, "\n")
            }
        }
    }

    impl fmt::Write for Bounded<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            if self.buf.len().saturating_add(s.len()) > self.cap {
                return Err(fmt::Error);
            }
            self.buf.extend_from_slice(s.as_bytes());
            Ok(())
        }
    }
}

/// The logger reaches the debug port through its hook (`logging::set_hook`).
impl crate::logging::LogHook for DebugSink {
    fn record(&self, level: Level, target: &str, line: &str) {
        let bit = crate::logging::class_bit(target);
        if self.wants(level, bit) {
            DebugSink::record(self, level, target, line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(out: &mut Outbox) -> Vec<u8> {
        let (a, b) = out.pending();
        let bytes = [a, b].concat();
        out.consume(bytes.len());
        bytes
    }

    #[test]
    fn lines_come_out_in_order_across_the_wrap() {
        let mut out = Outbox::new(64);
        let mut got = Vec::new();
        for i in 0..40 {
            assert!(out.push_line(format!("line {i}").as_bytes()));
            // Consume a few bytes at a time so lines wrap at varying offsets.
            let (a, b) = out.pending();
            let n = (a.len() + b.len()).min(7 + i % 5);
            got.extend_from_slice(&[a, b].concat()[..n]);
            out.consume(n);
        }
        got.extend(drain(&mut out));
        let expect: String = (0..40).map(|i| format!("line {i}\n")).collect();
        assert_eq!(String::from_utf8(got).unwrap(), expect);
    }

    #[test]
    fn full_ring_drops_whole_lines_then_marks_the_gap() {
        let mut out = Outbox::new(100);
        let mut kept = 0;
        for i in 0..20 {
            if out.push_line(format!("message {i:03}").as_bytes()) {
                kept += 1;
            }
        }
        // 12 bytes a line: 8 fit in 100.
        assert_eq!(kept, 8);
        assert_eq!(out.dropped(), 12);
        let first = String::from_utf8(drain(&mut out)).unwrap();
        assert!(first.ends_with("message 007\n"), "{first}");
        assert_eq!(first.lines().count(), 8);
        // Space is back: the marker comes before any newer line.
        assert!(out.push_line(b"message 020"));
        assert_eq!(
            String::from_utf8(drain(&mut out)).unwrap(),
            "[12 lines dropped]\nmessage 020\n"
        );
        assert_eq!(out.dropped(), 0);
        assert_eq!(out.lost(), 12);
        out.clear();
        assert_eq!(out.lost(), 0);
    }

    #[test]
    fn marker_waits_until_it_fits_and_keeps_counting() {
        let mut out = Outbox::new(100);
        assert!(out.push_line(&[b'x'; 59]));
        assert!(out.push_line(&[b'w'; 38]));
        assert_eq!(out.len(), 99);
        assert!(!out.push_line(b"a"));
        out.consume(5);
        // 6 bytes free: "[1 lines dropped]\n" (18) does not fit, so "b" is dropped too.
        assert!(!out.push_line(b"b"));
        assert_eq!(out.dropped(), 2);
        out.consume(12);
        out.settle();
        assert_eq!(out.dropped(), 0);
        let rest = String::from_utf8(drain(&mut out)).unwrap();
        assert!(rest.ends_with("w\n[2 lines dropped]\n"), "{rest}");
    }

    #[test]
    fn overlong_lines_are_truncated_and_tiny_rings_do_not_panic() {
        let mut out = Outbox::new(100);
        assert!(out.push_line(&[b'y'; 500]));
        assert_eq!(out.len(), 100 - MARKER_MAX);
        let mut tiny = Outbox::new(3);
        tiny.push_line(b"abc");
        tiny.note_dropped(7);
        tiny.settle();
        let _ = drain(&mut tiny);
        let mut zero = Outbox::new(0);
        assert!(!zero.push_line(b"abc"));
        zero.settle();
        zero.consume(10);
        assert!(zero.is_empty());
    }

    #[test]
    fn one_trailing_newline_is_not_doubled() {
        let mut out = Outbox::new(64);
        out.push_line(b"a\n");
        out.push_line(b"");
        assert_eq!(drain(&mut out), b"a\n\n");
    }

    #[test]
    fn banner_names_version_pid_and_classes() {
        assert_eq!(
            banner("0.1.0", 812, 0x204).as_str(),
            "siproxd-rs 0.1.0 debug log, pid 812, debug_level 0x0204 (sip rtp)"
        );
        assert_eq!(
            banner("0.1.0", 1, 0).as_str(),
            "siproxd-rs 0.1.0 debug log, pid 1, debug_level 0x0000 (no debug classes)"
        );
        let all = banner("0.1.0", u32::MAX, u32::MAX);
        assert!(all.ends_with("rtpbabl)"), "{all}");
        let long = banner(&"v".repeat(400), 5, 4);
        assert_eq!(
            long.as_str(),
            "siproxd-rs debug log, pid 5, debug_level 0x0004"
        );
    }

    #[test]
    fn refusal_names_the_limit() {
        assert_eq!(
            refusal().as_str(),
            "siproxd-rs: too many debug clients (max 4)\n"
        );
    }

    #[test]
    fn listen_addr_prefers_debug_bind() {
        let inbound: IpAddr = "192.168.1.1".parse().unwrap();
        let bind: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            listen_addr(9999, inbound, None),
            "192.168.1.1:9999".parse().unwrap()
        );
        assert_eq!(
            listen_addr(9999, inbound, Some(bind)),
            "127.0.0.1:9999".parse().unwrap()
        );
    }

    fn queued() -> (String, u64) {
        let mut out = Vec::with_capacity(DEBUG_SINK_BUFFER);
        let dropped = sink::take(&mut out);
        (String::from_utf8(out).unwrap(), dropped)
    }

    // Each test runs on its own thread, so each has its own sink.
    #[test]
    fn sink_queues_only_while_a_client_listens() {
        DebugSink.push_line("before enable");
        sink::enable();
        DebugSink.push_line("nobody listens");
        assert_eq!(queued(), (String::new(), 0));
        assert!(!DebugSink.wants(Level::Error, None));
        sink::client_joined();
        DebugSink.push_line("one\n");
        DebugSink.record(Level::Info, "siproxd_rs::x", "two");
        DebugSink.record(Level::Debug, logging::SIP, "three\nfour");
        let (text, dropped) = queued();
        assert_eq!(dropped, 0);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(lines[0], "one");
        // "HH:MM:SS.mmm " prefix, then the stderr labels.
        assert_eq!(lines[1].as_bytes()[2], b':');
        assert_eq!(&lines[1][12..], " INFO: two");
        assert_eq!(&lines[2][12..], " sip: three");
        assert_eq!(lines[3], "four");
        assert_eq!(queued(), (String::new(), 0));
        sink::disable(1);
        DebugSink.push_line("after disable");
        assert_eq!(queued(), (String::new(), 0));
    }

    #[test]
    fn sink_overflow_drops_everything_after_the_gap_until_drained() {
        sink::enable();
        sink::client_joined();
        let line = "z".repeat(99);
        let fit = DEBUG_SINK_BUFFER / 100;
        for _ in 0..fit + 3 {
            DebugSink.push_line(&line);
        }
        // A short record would still fit, but must not jump the gap.
        DebugSink.push_line("short");
        DebugSink.push_line("two\nlines");
        let (text, dropped) = queued();
        assert_eq!(text.lines().count(), fit);
        assert_eq!(dropped, 3 + 1 + 2);
        DebugSink.push_line("after drain");
        assert_eq!(queued(), ("after drain\n".to_string(), 0));
    }

    #[test]
    fn wants_follows_the_mask_for_debug_only() {
        sink::enable();
        sink::client_joined();
        sink::set_mask(0x204);
        assert!(DebugSink.wants(Level::Debug, logging::class_bit(logging::SIP)));
        assert!(DebugSink.wants(Level::Trace, Some(0x200)));
        assert!(!DebugSink.wants(Level::Debug, logging::class_bit(logging::NET)));
        assert!(!DebugSink.wants(Level::Debug, None));
        assert!(DebugSink.wants(Level::Warn, None));
        sink::client_left();
        assert!(!DebugSink.wants(Level::Warn, None));
    }

    #[test]
    fn a_record_logged_while_queueing_is_dropped_not_recursed() {
        sink::enable();
        sink::client_joined();
        sink::push("outer", |w| {
            // As if formatting the record logged again.
            DebugSink.push_line("inner");
            fmt::Write::write_str(w, "outer")
        });
        assert_eq!(queued(), ("outer\n".to_string(), 0));
    }
}
