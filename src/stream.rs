//! SIP over stream transports (TCP), the sans-IO part: a fixed table of connections, each with
//! a bounded receive buffer framed by Content-Length (RFC 3261 §18.3) and a bounded write
//! queue, plus the timers that protect the proxy from slow or hostile peers. The shell owns
//! the sockets: it reports accepted connections, connect results, received bytes and how much
//! it wrote; it asks the table what to write and which connections to close.
//!
//! Limits (issue "SIP over TCP", hostile clients): a per-source cap of accepted connections,
//! a deadline for a complete message once its first byte arrived, an idle timeout, a write
//! queue bound (a peer that never reads loses its connection) and, when the table is full, the
//! least recently active accepted connection with nothing in flight is evicted for a new one.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

use crate::limits;
use crate::sansio::ConnId;
use crate::sip::{frame_stream, ParseError, StreamFrame};

/// How a stream connection came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A peer connected to us (a phone, or a provider's request).
    Accepted,
    /// We connected to the peer (a next hop that wants TCP).
    Opened,
}

/// Why a connection is closed (logged, and counted by the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer closed, or the socket failed.
    Peer,
    /// No traffic for `tcp_timeout`.
    Idle,
    /// A message did not complete within the header deadline.
    SlowSender,
    /// The framing is lost (no Content-Length, a bad header block).
    BadFraming(ParseError),
    /// A message larger than `SIP_MAX_MESSAGE`.
    Oversized,
    /// The write queue overflowed: the peer does not read.
    WriteQueueFull,
    /// A non-blocking connect failed or timed out.
    ConnectFailed,
    /// Evicted to make room for a new connection.
    Evicted,
}

impl CloseReason {
    pub fn name(self) -> &'static str {
        match self {
            CloseReason::Peer => "peer",
            CloseReason::Idle => "idle",
            CloseReason::SlowSender => "slow_sender",
            CloseReason::BadFraming(_) => "bad_framing",
            CloseReason::Oversized => "oversized",
            CloseReason::WriteQueueFull => "write_queue_full",
            CloseReason::ConnectFailed => "connect_failed",
            CloseReason::Evicted => "evicted",
        }
    }
}

/// Why a new connection was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The source already has `per_source` connections.
    PerSourceCap,
    /// Every slot is busy and none can be evicted.
    TableFull,
}

/// The limits of the table (from `max_tcp_connections`, `tcp_timeout`, `tcp_connect_timeout`,
/// `tcp_keepalive`; 0 turns a timer off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    pub max_connections: usize,
    pub per_source: usize,
    /// Close a connection after this much silence (ms).
    pub idle_timeout: Option<u64>,
    /// Send a CRLFCRLF ping on a connection we opened after this much silence (ms).
    pub keepalive: Option<u64>,
    pub connect_timeout: u64,
    /// A message must be complete this long after its first byte (ms).
    pub message_deadline: u64,
    pub write_queue: usize,
}

impl StreamLimits {
    pub fn from_config(cfg: &crate::config::Config) -> StreamLimits {
        let secs = |s: u32| (s > 0).then(|| u64::from(s) * 1000);
        StreamLimits {
            max_connections: cfg.max_tcp_connections,
            per_source: limits::TCP_PER_SOURCE,
            idle_timeout: secs(cfg.tcp_timeout),
            keepalive: secs(cfg.tcp_keepalive),
            connect_timeout: u64::from(cfg.tcp_connect_timeout).max(1),
            message_deadline: limits::TCP_MESSAGE_DEADLINE_MS,
            write_queue: limits::TCP_WRITE_QUEUE,
        }
    }
}

/// Counters of the table (the status snapshot shows them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamCounters {
    pub accepted: u64,
    pub opened: u64,
    pub refused_per_source: u64,
    pub refused_full: u64,
    pub evicted: u64,
    pub closed_idle: u64,
    pub closed_slow: u64,
    pub closed_bad_framing: u64,
    pub closed_oversized: u64,
    pub closed_write_queue: u64,
    pub connect_failed: u64,
    pub messages: u64,
    pub keepalives_answered: u64,
    pub pings_sent: u64,
}

/// Takes each framed message (or, with the error, the bytes whose framing failed).
pub type OnMessage<'a> = dyn FnMut(ConnId, &[u8], Option<ParseError>) + 'a;

/// What a received chunk produced, besides the messages handed to the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// The connection stays open.
    Open,
    /// The connection must be closed (the table slot is already free); the bytes of a
    /// message whose framing failed were handed to `on_bad` first, so it can be answered.
    Closed(CloseReason),
}

#[derive(Debug)]
struct Conn {
    generation: u32,
    live: bool,
    role: Role,
    connecting: bool,
    peer: SocketAddr,
    local: SocketAddr,
    /// Received bytes not yet framed; its capacity is kept for the slot's next connection.
    rbuf: Vec<u8>,
    wq: VecDeque<u8>,
    last_activity: u64,
    /// When the first byte of the message being received arrived.
    message_started: Option<u64>,
    connect_started: u64,
    /// The framing is lost: nothing more is read, the queue (a 400) is written, then it closes.
    closing: bool,
}

impl Conn {
    fn empty() -> Conn {
        Conn {
            generation: 0,
            live: false,
            role: Role::Accepted,
            connecting: false,
            peer: SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0),
            local: SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0),
            rbuf: Vec::new(),
            wq: VecDeque::new(),
            last_activity: 0,
            message_started: None,
            connect_started: 0,
            closing: false,
        }
    }

    /// Nothing half-received and nothing waiting to be written: safe to evict.
    fn quiet(&self) -> bool {
        self.rbuf.is_empty() && self.wq.is_empty() && !self.connecting
    }
}

/// A connection as the status snapshot lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnInfo {
    pub id: ConnId,
    pub role: Role,
    pub connecting: bool,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub idle_ms: u64,
    pub queued: usize,
}

/// The connection table.
#[derive(Debug)]
pub struct Streams {
    limits: StreamLimits,
    conns: Box<[Conn]>,
    counters: StreamCounters,
    /// Closes the table decided on its own (timers, eviction), for the shell to carry out.
    closed: VecDeque<(ConnId, CloseReason)>,
    /// The first message queued on connections whose connect failed (local, peer, bytes),
    /// so its sender can be told; a few at most.
    undelivered: VecDeque<(SocketAddr, SocketAddr, Vec<u8>)>,
}

/// Undelivered messages kept for the proxy to answer (more are only logged).
const UNDELIVERED_MAX: usize = 8;

impl Streams {
    pub fn new(limits: StreamLimits) -> Streams {
        let conns = (0..limits.max_connections).map(|_| Conn::empty()).collect();
        Streams {
            limits,
            conns,
            counters: StreamCounters::default(),
            closed: VecDeque::new(),
            undelivered: VecDeque::new(),
        }
    }

    pub fn counters(&self) -> &StreamCounters {
        &self.counters
    }

    fn get(&self, id: ConnId) -> Option<&Conn> {
        let c = self.conns.get(usize::try_from(id.slot).ok()?)?;
        (c.live && c.generation == id.generation).then_some(c)
    }

    fn get_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        let c = self.conns.get_mut(usize::try_from(id.slot).ok()?)?;
        (c.live && c.generation == id.generation).then_some(c)
    }

    fn id_of(slot: usize, c: &Conn) -> ConnId {
        ConnId {
            slot: u32::try_from(slot).unwrap_or(u32::MAX),
            generation: c.generation,
        }
    }

    /// Live connections.
    pub fn iter(&self, now: u64) -> impl Iterator<Item = ConnInfo> + '_ {
        self.conns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.live)
            .map(move |(i, c)| Self::info_of(Self::id_of(i, c), c, now))
    }

    fn info_of(id: ConnId, c: &Conn, now: u64) -> ConnInfo {
        ConnInfo {
            id,
            role: c.role,
            connecting: c.connecting,
            peer: c.peer,
            local: c.local,
            idle_ms: now.saturating_sub(c.last_activity),
            queued: c.wq.len(),
        }
    }

    pub fn is_open(&self, id: ConnId) -> bool {
        self.get(id).is_some_and(|c| !c.closing)
    }

    pub fn is_connecting(&self, id: ConnId) -> bool {
        self.get(id).is_some_and(|c| c.connecting)
    }

    pub fn info(&self, now: u64, id: ConnId) -> Option<ConnInfo> {
        Some(Self::info_of(id, self.get(id)?, now))
    }

    /// The most recently active connection a host opened to us: a phone's requests come in on
    /// the connection its REGISTER opened, from an ephemeral port its Contact does not name.
    pub fn find_accepted_from(&self, ip: IpAddr) -> Option<ConnId> {
        let ip = ip.to_canonical();
        self.conns
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                c.live && !c.closing && c.role == Role::Accepted && c.peer.ip().to_canonical() == ip
            })
            .max_by_key(|(_, c)| c.last_activity)
            .map(|(i, c)| Self::id_of(i, c))
    }

    /// An open connection to `peer` (any role): requests and responses to an address reuse it.
    pub fn find(&self, peer: SocketAddr) -> Option<ConnId> {
        self.conns
            .iter()
            .enumerate()
            .find(|(_, c)| c.live && !c.closing && c.peer == peer)
            .map(|(i, c)| Self::id_of(i, c))
    }

    /// The connection a message to `destination` goes on: `preferred` (the one its request
    /// came on) while open (the shell drops an answer whose connection closed), else an open connection to `destination`, else, towards a phone,
    /// the connection its host opened (its registration's flow). `None`: open a new one.
    pub fn connection_for(
        &self,
        preferred: Option<ConnId>,
        destination: SocketAddr,
    ) -> Option<ConnId> {
        preferred
            .filter(|&c| self.is_open(c))
            .or_else(|| self.find(destination))
            .or_else(|| self.find_accepted_from(destination.ip()))
    }

    /// A message no connection could be opened for (table full, socket error): kept for
    /// `poll_undelivered` like the first message of a failed connect, so its sender is told.
    pub fn undeliverable(&mut self, local: SocketAddr, peer: SocketAddr, bytes: &[u8]) {
        if self.undelivered.len() < UNDELIVERED_MAX {
            self.undelivered.push_back((local, peer, bytes.to_vec()));
        }
    }

    /// A free slot, evicting the least recently active quiet accepted connection if needed.
    fn take_slot(&mut self, now: u64) -> Result<usize, Refused> {
        if let Some(i) = self.conns.iter().position(|c| !c.live) {
            return Ok(i);
        }
        let victim = self
            .conns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.role == Role::Accepted && c.quiet())
            .min_by_key(|(_, c)| c.last_activity)
            .map(|(i, _)| i);
        let Some(i) = victim else {
            self.counters.refused_full = self.counters.refused_full.saturating_add(1);
            return Err(Refused::TableFull);
        };
        let id = self.conns.get(i).map(|c| Self::id_of(i, c));
        if let Some(id) = id {
            log::info!(
                "TCP table full: evicting the idle connection {id} (idle since {} ms)",
                now.saturating_sub(self.conns.get(i).map_or(now, |c| c.last_activity))
            );
            self.release(i);
            self.closed.push_back((id, CloseReason::Evicted));
            self.counters.evicted = self.counters.evicted.saturating_add(1);
        }
        Ok(i)
    }

    fn release(&mut self, slot: usize) {
        if let Some(c) = self.conns.get_mut(slot) {
            c.live = false;
            c.closing = false;
            c.rbuf.clear();
            c.wq.clear();
            c.message_started = None;
            c.generation = c.generation.wrapping_add(1);
        }
    }

    fn occupy(
        &mut self,
        slot: usize,
        now: u64,
        role: Role,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> Option<ConnId> {
        let c = self.conns.get_mut(slot)?;
        c.live = true;
        c.role = role;
        c.connecting = role == Role::Opened;
        c.peer = peer;
        c.local = local;
        c.last_activity = now;
        c.connect_started = now;
        c.message_started = None;
        if c.rbuf.capacity() == 0 {
            // Once per slot, on its first use; kept for the slot's later connections.
            c.rbuf.reserve_exact(limits::SIP_MAX_MESSAGE);
        }
        Some(Self::id_of(slot, c))
    }

    /// A peer connected to us.
    pub fn accept(
        &mut self,
        now: u64,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> Result<ConnId, Refused> {
        // An IPv6 source is its /64, as for the rate limit: a host has all of it to rotate.
        let source = crate::ratelimit::source_key(peer.ip());
        let from_source = self
            .conns
            .iter()
            .filter(|c| {
                c.live
                    && c.role == Role::Accepted
                    && crate::ratelimit::source_key(c.peer.ip()) == source
            })
            .count();
        if from_source >= self.limits.per_source {
            self.counters.refused_per_source = self.counters.refused_per_source.saturating_add(1);
            log::warn!(
                "TCP connection from {peer} refused: {from_source} already open from that address"
            );
            return Err(Refused::PerSourceCap);
        }
        let slot = self.take_slot(now)?;
        self.counters.accepted = self.counters.accepted.saturating_add(1);
        self.occupy(slot, now, Role::Accepted, peer, local)
            .ok_or(Refused::TableFull)
    }

    /// We start a non-blocking connect to `peer`; messages may be queued at once and go out
    /// when [`Streams::connected`] is reported.
    pub fn open(
        &mut self,
        now: u64,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> Result<ConnId, Refused> {
        let slot = self.take_slot(now)?;
        self.counters.opened = self.counters.opened.saturating_add(1);
        self.occupy(slot, now, Role::Opened, peer, local)
            .ok_or(Refused::TableFull)
    }

    /// The connect of `id` completed.
    pub fn connected(&mut self, now: u64, id: ConnId) {
        if let Some(c) = self.get_mut(id) {
            c.connecting = false;
            c.last_activity = now;
        }
    }

    /// The shell closed `id` (the peer did, or the socket failed); its slot is free. Returns
    /// how many queued bytes were lost (a connect that failed loses what waited for it).
    pub fn closed(&mut self, id: ConnId, reason: CloseReason) -> usize {
        let Some(c) = self.get(id) else {
            return 0;
        };
        let lost = c.wq.len();
        if reason == CloseReason::ConnectFailed || c.connecting {
            self.counters.connect_failed = self.counters.connect_failed.saturating_add(1);
            self.keep_undelivered(id);
        }
        if let Ok(slot) = usize::try_from(id.slot) {
            self.release(slot);
        }
        lost
    }

    /// Queues `bytes` for `id`. A queue that would pass its bound closes the connection: a
    /// peer that does not read must not hold memory (the close is reported by `poll_close`).
    pub fn send(&mut self, id: ConnId, bytes: &[u8]) -> bool {
        let bound = self.limits.write_queue;
        let Some(c) = self.get_mut(id) else {
            return false;
        };
        if c.wq.len().saturating_add(bytes.len()) > bound {
            log::warn!(
                "TCP peer {} does not read: {} bytes queued, connection closed",
                c.peer,
                c.wq.len()
            );
            if let Ok(slot) = usize::try_from(id.slot) {
                self.release(slot);
            }
            self.counters.closed_write_queue = self.counters.closed_write_queue.saturating_add(1);
            self.closed.push_back((id, CloseReason::WriteQueueFull));
            return false;
        }
        c.wq.extend(bytes);
        true
    }

    /// What waits to be written on `id` (the front of its queue; empty while connecting).
    pub fn pending_write(&self, id: ConnId) -> &[u8] {
        match self.get(id) {
            Some(c) if !c.connecting => c.wq.as_slices().0,
            _ => &[],
        }
    }

    /// The shell wrote `n` bytes of [`Streams::pending_write`].
    pub fn wrote(&mut self, now: u64, id: ConnId, n: usize) {
        if let Some(c) = self.get_mut(id) {
            c.wq.drain(..n.min(c.wq.len()));
            if n > 0 {
                c.last_activity = now;
            }
            if c.wq.is_empty() {
                // Keeps the queue's memory bounded by what one burst needed, not by history.
                c.wq.shrink_to(limits::SIP_SEND_BUFFER);
            }
        }
    }

    /// Bytes received on `id`: every complete message is handed to `on_message` (the bytes
    /// of exactly one message, to parse with `Framing::Stream`); a CRLFCRLF ping is answered.
    /// When the framing is lost the bytes received so far are handed over with the error (to
    /// answer 400 where possible): the connection then reads nothing more and closes once its queue
    /// is written (`poll_finished`). An oversized message closes it at once.
    pub fn received(
        &mut self,
        now: u64,
        id: ConnId,
        data: &[u8],
        on_message: &mut OnMessage<'_>,
    ) -> Received {
        let Ok(slot) = usize::try_from(id.slot) else {
            return Received::Closed(CloseReason::Peer);
        };
        let mut rest = data;
        loop {
            let Some(c) = self.get_mut(id) else {
                return Received::Closed(CloseReason::Peer);
            };
            if c.closing {
                return Received::Open;
            }
            c.last_activity = now;
            // Fill the buffer up to one message's worth; a message that does not fit is
            // oversized whatever follows it.
            let room = limits::SIP_MAX_MESSAGE.saturating_sub(c.rbuf.len());
            let take = room.min(rest.len());
            let (chunk, after) = rest.split_at(take);
            c.rbuf.extend_from_slice(chunk);
            rest = after;
            let outcome = self.frame(slot, now, id, on_message);
            match outcome {
                Err(reason @ CloseReason::BadFraming(_)) => {
                    if let Some(c) = self.conns.get_mut(slot) {
                        c.closing = true;
                        c.rbuf.clear();
                        c.message_started = None;
                    }
                    self.count_close(reason);
                    return Received::Closed(reason);
                }
                Err(reason) => {
                    self.release(slot);
                    self.count_close(reason);
                    return Received::Closed(reason);
                }
                Ok(()) if rest.is_empty() => return Received::Open,
                Ok(()) => {}
            }
        }
    }

    /// Frames and hands out what the buffer of `slot` holds.
    fn frame(
        &mut self,
        slot: usize,
        now: u64,
        id: ConnId,
        on_message: &mut OnMessage<'_>,
    ) -> Result<(), CloseReason> {
        let mut consumed = 0;
        let mut pong = false;
        let result = loop {
            let Some(c) = self.conns.get(slot) else {
                break Ok(());
            };
            let buf = c.rbuf.get(consumed..).unwrap_or_default();
            if buf.is_empty() {
                break Ok(());
            }
            match frame_stream(buf) {
                Ok(StreamFrame::Incomplete) if buf.len() >= limits::SIP_MAX_MESSAGE => {
                    log::warn!(
                        "TCP peer {}: message larger than {} bytes, connection closed",
                        c.peer,
                        limits::SIP_MAX_MESSAGE
                    );
                    break Err(CloseReason::Oversized);
                }
                Ok(StreamFrame::Incomplete) => break Ok(()),
                Ok(StreamFrame::Keepalive(n)) => {
                    // RFC 5626 §4.4.1: a double CRLF is a ping, answered with one CRLF.
                    let ping = buf
                        .get(..n)
                        .is_some_and(|k| k.windows(4).any(|w| w == b"\r\n\r\n"));
                    pong |= ping;
                    consumed += n;
                }
                Ok(StreamFrame::Message(n)) => {
                    if let Some(m) = buf.get(..n) {
                        self.counters.messages = self.counters.messages.saturating_add(1);
                        on_message(id, m, None);
                    }
                    consumed += n;
                }
                Err(e) => {
                    log::warn!("TCP peer {}: {e}; connection closed", c.peer);
                    on_message(id, buf, Some(e));
                    break Err(CloseReason::BadFraming(e));
                }
            }
        };
        if let Some(c) = self.conns.get_mut(slot) {
            c.rbuf.drain(..consumed.min(c.rbuf.len()));
            c.message_started = match (c.rbuf.is_empty(), c.message_started) {
                (true, _) => None,
                (false, Some(t)) if consumed == 0 => Some(t),
                (false, _) => Some(now),
            };
        }
        if pong && result.is_ok() {
            self.counters.keepalives_answered = self.counters.keepalives_answered.saturating_add(1);
            self.send(id, b"\r\n");
        }
        result
    }

    fn count_close(&mut self, reason: CloseReason) {
        let c = &mut self.counters;
        let n = match reason {
            CloseReason::Idle => &mut c.closed_idle,
            CloseReason::SlowSender => &mut c.closed_slow,
            CloseReason::BadFraming(_) => &mut c.closed_bad_framing,
            CloseReason::Oversized => &mut c.closed_oversized,
            CloseReason::WriteQueueFull => &mut c.closed_write_queue,
            CloseReason::ConnectFailed => &mut c.connect_failed,
            CloseReason::Evicted => &mut c.evicted,
            CloseReason::Peer => return,
        };
        *n = n.saturating_add(1);
    }

    /// The next instant a timer of some connection is due.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.conns
            .iter()
            .filter(|c| c.live)
            .filter_map(|c| self.deadline_of(c))
            .min()
    }

    fn deadline_of(&self, c: &Conn) -> Option<u64> {
        let l = &self.limits;
        if c.connecting {
            return Some(c.connect_started.saturating_add(l.connect_timeout));
        }
        let idle = l.idle_timeout.map(|t| c.last_activity.saturating_add(t));
        let slow = c
            .message_started
            .map(|t| t.saturating_add(l.message_deadline));
        let ping = match c.role {
            Role::Opened => l.keepalive.map(|t| c.last_activity.saturating_add(t)),
            Role::Accepted => None,
        };
        [idle, slow, ping].into_iter().flatten().min()
    }

    /// Timers: connect timeouts, slow senders, idle connections (closed, reported by
    /// `poll_close`), keepalive pings on connections we opened.
    pub fn handle_timeout(&mut self, now: u64) {
        for slot in 0..self.conns.len() {
            let Some(c) = self.conns.get(slot) else {
                continue;
            };
            if !c.live {
                continue;
            }
            let id = Self::id_of(slot, c);
            let l = self.limits;
            let reason = if c.connecting {
                (now >= c.connect_started.saturating_add(l.connect_timeout))
                    .then_some(CloseReason::ConnectFailed)
            } else if c
                .message_started
                .is_some_and(|t| now >= t.saturating_add(l.message_deadline))
            {
                Some(CloseReason::SlowSender)
            } else if l
                .idle_timeout
                .is_some_and(|t| now >= c.last_activity.saturating_add(t))
            {
                Some(CloseReason::Idle)
            } else {
                None
            };
            if let Some(reason) = reason {
                log::info!("TCP connection to {} closed: {}", c.peer, reason.name());
                if reason == CloseReason::ConnectFailed {
                    self.keep_undelivered(id);
                }
                self.release(slot);
                self.count_close(reason);
                self.closed.push_back((id, reason));
                continue;
            }
            let ping_due = c.role == Role::Opened
                && l.keepalive
                    .is_some_and(|t| now >= c.last_activity.saturating_add(t));
            if ping_due && self.send(id, b"\r\n\r\n") {
                self.counters.pings_sent = self.counters.pings_sent.saturating_add(1);
                if let Some(c) = self.conns.get_mut(slot) {
                    c.last_activity = now;
                }
            }
        }
    }

    /// Keeps the first message queued on `id` (a connect that failed) for `poll_undelivered`.
    fn keep_undelivered(&mut self, id: ConnId) {
        if self.undelivered.len() >= UNDELIVERED_MAX {
            return;
        }
        let Some(c) = self.get_mut(id) else { return };
        let (local, peer) = (c.local, c.peer);
        let queued = c.wq.make_contiguous();
        if let Ok(StreamFrame::Message(n)) = frame_stream(queued) {
            if let Some(m) = queued.get(..n) {
                let m = m.to_vec();
                self.undelivered.push_back((local, peer, m));
            }
        }
    }

    /// A message that could not be delivered because the connect failed: (local, peer, bytes).
    pub fn poll_undelivered(&mut self) -> Option<(SocketAddr, SocketAddr, Vec<u8>)> {
        self.undelivered.pop_front()
    }

    /// A connection the table closed on its own, for the shell to close its socket.
    pub fn poll_close(&mut self) -> Option<(ConnId, CloseReason)> {
        self.closed.pop_front()
    }

    /// A closing connection whose queue is written: its slot is freed, the shell closes it.
    pub fn poll_finished(&mut self) -> Option<ConnId> {
        let slot = self
            .conns
            .iter()
            .position(|c| c.live && c.closing && c.wq.is_empty())?;
        let id = self.conns.get(slot).map(|c| Self::id_of(slot, c))?;
        self.release(slot);
        Some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: &str = "192.168.1.10:5062";
    const LOCAL: &str = "192.168.1.1:5060";

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn limits() -> StreamLimits {
        StreamLimits {
            max_connections: 4,
            per_source: 2,
            idle_timeout: Some(600_000),
            keepalive: Some(30_000),
            connect_timeout: 500,
            message_deadline: 10_000,
            write_queue: 4096,
        }
    }

    fn msg(n: u32) -> Vec<u8> {
        let body = "v=0\r\n";
        format!(
            "OPTIONS sip:x@h SIP/2.0\r\nVia: SIP/2.0/TCP 192.168.1.10:5062;branch=z9hG4bK{n}\r\nCall-ID: {n}\r\nCSeq: {n} OPTIONS\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    /// Feeds `chunks` and returns the messages and the last outcome.
    fn feed(
        s: &mut Streams,
        id: ConnId,
        chunks: &[&[u8]],
    ) -> (Vec<Vec<u8>>, Vec<ParseError>, Received) {
        let mut got = Vec::new();
        let mut bad = Vec::new();
        let mut last = Received::Open;
        for c in chunks {
            last = s.received(0, id, c, &mut |_, m, e| match e {
                None => got.push(m.to_vec()),
                Some(e) => bad.push(e),
            });
        }
        (got, bad, last)
    }

    #[test]
    fn a_message_split_at_every_offset_is_framed_once() {
        let m = msg(1);
        for cut in 0..=m.len() {
            let mut s = Streams::new(limits());
            let id = s.accept(0, sa(PEER), sa(LOCAL)).unwrap();
            let (a, b) = m.split_at(cut);
            let (got, bad, last) = feed(&mut s, id, &[a, b]);
            assert_eq!(got, vec![m.clone()], "cut at {cut}");
            assert!(bad.is_empty());
            assert_eq!(last, Received::Open);
        }
    }

    #[test]
    fn one_byte_at_a_time_and_three_in_one_segment() {
        let mut s = Streams::new(limits());
        let id = s.accept(0, sa(PEER), sa(LOCAL)).unwrap();
        let m = msg(7);
        let bytes: Vec<&[u8]> = m.chunks(1).collect();
        let (got, _, _) = feed(&mut s, id, &bytes);
        assert_eq!(got, vec![m]);
        let three = [msg(1), msg(2), msg(3)].concat();
        let (got, _, _) = feed(&mut s, id, &[&three]);
        assert_eq!(got, vec![msg(1), msg(2), msg(3)]);
        assert_eq!(s.counters().messages, 4);
    }

    #[test]
    fn crlf_keepalives_are_skipped_and_a_double_crlf_is_answered() {
        let mut s = Streams::new(limits());
        let id = s.accept(0, sa(PEER), sa(LOCAL)).unwrap();
        let (got, _, _) = feed(&mut s, id, &[b"\r\n", &msg(1)]);
        assert_eq!(got.len(), 1);
        assert!(
            s.pending_write(id).is_empty(),
            "a single CRLF gets no answer"
        );
        let (got, _, _) = feed(&mut s, id, &[b"\r\n\r\n"]);
        assert!(got.is_empty());
        assert_eq!(s.pending_write(id), b"\r\n");
        s.wrote(1, id, 2);
        assert!(s.pending_write(id).is_empty());
    }

    #[test]
    fn a_short_body_waits_then_the_slow_sender_is_closed() {
        let mut s = Streams::new(limits());
        let id = s.accept(0, sa(PEER), sa(LOCAL)).unwrap();
        let m = msg(1);
        let (got, _, last) = feed(&mut s, id, &[&m[..m.len() - 2]]);
        assert!(got.is_empty());
        assert_eq!(last, Received::Open);
        assert_eq!(s.poll_timeout(), Some(10_000));
        s.handle_timeout(9_999);
        assert!(s.poll_close().is_none());
        s.handle_timeout(10_000);
        assert_eq!(s.poll_close(), Some((id, CloseReason::SlowSender)));
        assert!(s.find(sa(PEER)).is_none());
        assert_eq!(s.counters().closed_slow, 1);
    }

    #[test]
    fn missing_content_length_hands_the_bytes_to_answer_and_closes() {
        let mut s = Streams::new(limits());
        let id = s.accept(0, sa(PEER), sa(LOCAL)).unwrap();
        let m = b"OPTIONS sip:x@h SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\n\r\n";
        let (got, bad, last) = feed(&mut s, id, &[m]);
        assert!(got.is_empty());
        assert_eq!(bad, vec![ParseError::MissingContentLength]);
        assert_eq!(
            last,
            Received::Closed(CloseReason::BadFraming(ParseError::MissingContentLength))
        );
        // The 400 the proxy answers is written before the connection goes.
        assert!(s.send(id, b"SIP/2.0 400 Missing Content-Length\r\n\r\n"));
        let (got, _, _) = feed(&mut s, id, &[&msg(2)]);
        assert!(
            got.is_empty(),
            "nothing more is read once the framing is lost"
        );
        assert_eq!(s.poll_finished(), None);
        let n = s.pending_write(id).len();
        s.wrote(1, id, n);
        assert_eq!(s.poll_finished(), Some(id));
        assert!(s.find(sa(PEER)).is_none());
    }

    #[test]
    fn an_oversized_message_closes_the_connection() {
        let mut s = Streams::new(limits());
        let id = s.accept(0, sa(PEER), sa(LOCAL)).unwrap();
        let mut m = b"OPTIONS sip:x@h SIP/2.0\r\n".to_vec();
        while m.len() <= limits::SIP_MAX_MESSAGE {
            m.extend_from_slice(format!("X-Pad: {}\r\n", "a".repeat(1000)).as_bytes());
        }
        let (_, _, last) = feed(&mut s, id, &[&m]);
        assert_eq!(last, Received::Closed(CloseReason::Oversized));
        assert_eq!(s.counters().closed_oversized, 1);
    }

    #[test]
    fn per_source_cap_and_eviction_of_the_oldest_idle_connection() {
        let mut s = Streams::new(limits());
        s.accept(0, sa("10.0.0.1:1"), sa(LOCAL)).unwrap();
        s.accept(5, sa("10.0.0.1:2"), sa(LOCAL)).unwrap();
        assert_eq!(
            s.accept(6, sa("10.0.0.1:3"), sa(LOCAL)),
            Err(Refused::PerSourceCap)
        );
        let busy = s.accept(7, sa("10.0.0.2:1"), sa(LOCAL)).unwrap();
        feed(&mut s, busy, &[b"OPTIONS sip:x"]);
        s.accept(8, sa("10.0.0.3:1"), sa(LOCAL)).unwrap();
        // Full: the quiet connection idle longest (10.0.0.1:1, since 0) makes room.
        let new = s.accept(9, sa("10.0.0.4:1"), sa(LOCAL)).unwrap();
        assert_eq!(s.poll_close().map(|(_, r)| r), Some(CloseReason::Evicted));
        assert!(s.find(sa("10.0.0.1:1")).is_none());
        assert_eq!(s.find(sa("10.0.0.4:1")), Some(new));
        assert!(
            s.find(sa("10.0.0.2:1")).is_some(),
            "a connection mid-message is not evicted"
        );
    }

    #[test]
    fn a_peer_that_never_reads_loses_its_connection() {
        let mut s = Streams::new(limits());
        let id = s.accept(0, sa(PEER), sa(LOCAL)).unwrap();
        let chunk = [b'x'; 1000];
        for _ in 0..4 {
            assert!(s.send(id, &chunk));
        }
        assert!(!s.send(id, &chunk));
        assert_eq!(s.poll_close(), Some((id, CloseReason::WriteQueueFull)));
        assert!(!s.send(id, b"late"), "the slot's old id is dead");
    }

    #[test]
    fn connect_timeout_fails_what_was_queued_and_a_reused_slot_has_a_new_id() {
        let mut s = Streams::new(limits());
        let id = s
            .open(0, sa("198.51.100.20:5060"), sa("203.0.113.5:5060"))
            .unwrap();
        assert!(s.send(id, b"INVITE"));
        assert!(
            s.pending_write(id).is_empty(),
            "nothing is written before the connect completes"
        );
        assert_eq!(s.poll_timeout(), Some(500));
        s.handle_timeout(500);
        assert_eq!(s.poll_close(), Some((id, CloseReason::ConnectFailed)));
        // Only whole messages are handed back for an answer ("INVITE" alone is not one).
        assert_eq!(s.poll_undelivered(), None);
        let again = s
            .open(600, sa("198.51.100.20:5060"), sa("203.0.113.5:5060"))
            .unwrap();
        assert_eq!(again.slot, id.slot);
        assert_ne!(again, id);
        s.connected(601, again);
        assert!(s.send(again, b"INVITE"));
        assert_eq!(s.pending_write(again), b"INVITE");
    }

    #[test]
    fn the_first_message_of_a_failed_connect_is_handed_back() {
        let mut s = Streams::new(limits());
        let peer = sa("198.51.100.20:5060");
        let id = s.open(0, peer, sa("203.0.113.5:5060")).unwrap();
        assert!(s.send(id, &msg(1)));
        assert!(s.send(id, &msg(2)));
        s.closed(id, CloseReason::ConnectFailed);
        let (local, to, bytes) = s.poll_undelivered().unwrap();
        assert_eq!((local, to, bytes), (sa("203.0.113.5:5060"), peer, msg(1)));
        assert_eq!(s.poll_undelivered(), None);
        assert_eq!(s.counters().connect_failed, 1);
    }

    #[test]
    fn idle_connections_close_and_opened_ones_are_pinged() {
        let mut s = Streams::new(limits());
        let acc = s.accept(0, sa(PEER), sa(LOCAL)).unwrap();
        let out = s
            .open(0, sa("198.51.100.20:5060"), sa("203.0.113.5:5060"))
            .unwrap();
        s.connected(0, out);
        s.handle_timeout(30_000);
        assert_eq!(s.pending_write(out), b"\r\n\r\n");
        assert!(
            s.pending_write(acc).is_empty(),
            "accepted connections are not pinged"
        );
        s.wrote(30_000, out, 4);
        s.handle_timeout(600_000);
        assert_eq!(s.poll_close(), Some((acc, CloseReason::Idle)));
        assert_eq!(s.counters().pings_sent, 2, "one at 30 s, one at 600 s");
    }
}
