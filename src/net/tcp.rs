//! The SIP-over-TCP shell: listeners beside the UDP sockets and one mio stream per slot of the
//! sans-IO connection table (`stream::Streams`). It only moves bytes: framing, limits and
//! timers are the table's, routing is the proxy core's.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};
use socket2::{Domain, Protocol, Socket, Type};

use crate::limits;
use crate::logging::NET;
use crate::proxy::Origin;
use crate::sansio::{ConnId, Transport};
use crate::stream::{CloseReason, Received, StreamLimits, Streams};

/// Listener tokens (inbound, outbound, and their other-family addresses); connection tokens
/// start at `limits::TCP_TOKEN_BASE`.
pub const LISTEN_INBOUND: Token = Token(6);
pub const LISTEN_OUTBOUND: Token = Token(7);
pub const LISTEN_ALT: [Token; 2] = [Token(14), Token(15)];

fn conn_token(slot: u32) -> Token {
    Token(limits::TCP_TOKEN_BASE + slot as usize)
}

/// Which listener: the LAN side or the WAN side (`*Alt`: the side's address of its other
/// family, on a dual-stack interface).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Inbound,
    Outbound,
    InboundAlt,
    OutboundAlt,
}

impl Side {
    fn token(self) -> Token {
        match self {
            Side::Inbound => LISTEN_INBOUND,
            Side::Outbound => LISTEN_OUTBOUND,
            Side::InboundAlt => LISTEN_ALT[0],
            Side::OutboundAlt => LISTEN_ALT[1],
        }
    }
}

const SIDES: [Side; 4] = [
    Side::Inbound,
    Side::Outbound,
    Side::InboundAlt,
    Side::OutboundAlt,
];

/// What the connections hand up to the event loop: a new peer to admit, framed messages.
pub trait Up {
    /// Whether a connection from `peer` is kept; `false` closes it at once.
    fn admit(&mut self, peer: SocketAddr) -> bool;
    /// A complete SIP message that arrived on a connection.
    fn deliver(&mut self, origin: Origin, bytes: &[u8]);
}

/// Listeners, connection sockets and the connection table.
#[derive(Debug)]
pub struct Tcp {
    /// One per `Side`, in `SIDES` order.
    listeners: [Option<(TcpListener, SocketAddr)>; 4],
    socks: Vec<Option<(TcpStream, ConnId)>>,
    streams: Streams,
    buf: Box<[u8]>,
    /// The table's next deadline, recomputed only after something changed it: the loop asks
    /// on every wake-up (RTP included) and the table scan is per slot.
    deadline: std::cell::Cell<Option<Option<u64>>>,
    /// Connections that used their read budget with more to read (edge-triggered: no new
    /// event comes for them), read again on the loop's next turn.
    more: std::collections::VecDeque<ConnId>,
}

impl Tcp {
    pub fn new(limits: StreamLimits) -> Tcp {
        Tcp {
            listeners: [None, None, None, None],
            socks: (0..limits.max_connections).map(|_| None).collect(),
            streams: Streams::new(limits),
            buf: vec![0u8; limits::SIP_RECV_BUFFER].into_boxed_slice(),
            deadline: std::cell::Cell::new(None),
            more: std::collections::VecDeque::with_capacity(limits.max_connections),
        }
    }

    /// A connection to read again (it had more than its budget), as its token.
    pub fn pop_more(&mut self) -> Option<Token> {
        self.more.pop_front().map(|id| conn_token(id.slot))
    }

    pub fn more_len(&self) -> usize {
        self.more.len()
    }

    pub fn streams(&self) -> &Streams {
        &self.streams
    }

    /// Listens on `addr` (the SIP port of one side).
    pub fn listen(&mut self, registry: &Registry, side: Side, addr: SocketAddr) -> io::Result<()> {
        self.unlisten(registry, side);
        let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        sock.set_reuse_address(true)?;
        if addr.is_ipv6() {
            sock.set_only_v6(true)?;
        }
        sock.set_nonblocking(true)?;
        sock.bind(&addr.into())?;
        sock.listen(128)?;
        let mut l = TcpListener::from_std(sock.into());
        registry.register(&mut l, side.token(), Interest::READABLE)?;
        log::info!("listening for SIP on tcp:{addr}");
        if let Some(slot) = self.listeners.get_mut(side as usize) {
            *slot = Some((l, addr));
        }
        Ok(())
    }

    pub fn unlisten(&mut self, registry: &Registry, side: Side) {
        let l = self.listeners.get_mut(side as usize).and_then(Option::take);
        if let Some((mut l, _)) = l {
            let _ = registry.deregister(&mut l);
        }
    }

    pub fn owns(&self, token: Token) -> bool {
        SIDES.iter().any(|s| s.token() == token)
            || (limits::TCP_TOKEN_BASE..limits::TCP_TOKEN_BASE + self.socks.len())
                .contains(&token.0)
    }

    /// A readiness event on one of our tokens: accepts (a connection `up` does not admit is
    /// closed at once), completes connects, reads (handing every framed message up) and
    /// writes what is queued.
    pub fn handle_event(&mut self, registry: &Registry, now: u64, token: Token, up: &mut dyn Up) {
        self.deadline.set(None);
        match SIDES.iter().find(|s| s.token() == token) {
            Some(&side) => self.accept(registry, now, side, up),
            None => {
                let t = token.0;
                let slot = t.saturating_sub(limits::TCP_TOKEN_BASE);
                let Some(Some((_, id))) = self.socks.get(slot) else {
                    return;
                };
                let id = *id;
                self.check_connect(registry, now, id);
                self.read(registry, now, id, &mut |origin, m| up.deliver(origin, m));
                self.write(registry, now, id);
            }
        }
        self.reap(registry);
    }

    fn accept(&mut self, registry: &Registry, now: u64, side: Side, up: &mut dyn Up) {
        loop {
            let Some(Some((l, local))) = self.listeners.get(side as usize) else {
                return;
            };
            let local = *local;
            let (mut stream, peer) = match l.accept() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and the like: the connection waits in the backlog.
                    log::warn!("TCP accept on {local}: {e}");
                    return;
                }
            };
            if !up.admit(peer) {
                // A blacklisted source: closed before it takes a slot of the table.
                log::debug!(target: NET, "TCP connection from {peer} on {local} refused");
                continue;
            }
            let Ok(id) = self.streams.accept(now, peer, local) else {
                continue; // dropping `stream` closes it; the table logged why
            };
            let token = conn_token(id.slot);
            if let Err(e) =
                registry.register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
            {
                log::warn!("TCP connection from {peer}: {e}");
                self.streams.closed(id, CloseReason::Peer);
                continue;
            }
            log::debug!(target: NET, "TCP connection from {peer} on {local} ({id})");
            self.close_slot(registry, id.slot);
            if let Some(s) = self.socks.get_mut(id.slot as usize) {
                *s = Some((stream, id));
            }
        }
    }

    fn sock(&mut self, id: ConnId) -> Option<&mut TcpStream> {
        match self.socks.get_mut(id.slot as usize) {
            Some(Some((s, sid))) if *sid == id => Some(s),
            _ => None,
        }
    }

    /// A connect we started: completed or failed?
    fn check_connect(&mut self, registry: &Registry, now: u64, id: ConnId) {
        if !self.streams.is_connecting(id) {
            return;
        }
        let Some(s) = self.sock(id) else { return };
        match s.take_error() {
            Ok(Some(e)) | Err(e) => {
                log::info!("TCP connect failed: {e}");
                self.fail(registry, id, CloseReason::ConnectFailed);
                return;
            }
            Ok(None) => {}
        }
        match s.peer_addr() {
            Ok(_) => {
                self.streams.connected(now, id);
                log::debug!(target: NET, "TCP connected ({id})");
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
            Err(e) => {
                log::info!("TCP connect failed: {e}");
                self.fail(registry, id, CloseReason::ConnectFailed);
            }
        }
    }

    fn read(
        &mut self,
        registry: &Registry,
        now: u64,
        id: ConnId,
        deliver: &mut dyn FnMut(Origin, &[u8]),
    ) {
        let mut buf = std::mem::take(&mut self.buf);
        let mut budget = limits::TCP_READ_BUDGET;
        while let Some(s) = self.sock(id) {
            if budget == 0 {
                if !self.more.contains(&id) {
                    self.more.push_back(id);
                }
                break;
            }
            let n = match s.read(&mut buf) {
                Ok(0) => {
                    self.fail(registry, id, CloseReason::Peer);
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::debug!(target: NET, "TCP read: {e}");
                    self.fail(registry, id, CloseReason::Peer);
                    break;
                }
            };
            budget = budget.saturating_sub(n);
            let Some(info) = self.streams.info(now, id) else {
                break;
            };
            let origin = Origin {
                transport: Transport::Tcp,
                src: info.peer,
                local: info.local,
                connection: Some(id),
            };
            let data = buf.get(..n).unwrap_or_default();
            crate::logging::dump(crate::logging::NETTRAF, data);
            // A message whose framing failed goes to the proxy too: it answers what it can
            // (400) on the connection, which closes once that is written.
            let r = self
                .streams
                .received(now, id, data, &mut |_, m, _| deliver(origin, m));
            if let Received::Closed(reason) = r {
                if !matches!(reason, CloseReason::BadFraming(_)) {
                    self.close_slot(registry, id.slot);
                }
                break;
            }
        }
        self.buf = buf;
    }

    /// Writes what is queued for `id` until the socket would block.
    fn write(&mut self, registry: &Registry, now: u64, id: ConnId) {
        loop {
            let pending = self.streams.pending_write(id);
            if pending.is_empty() {
                return;
            }
            let Some(Some((s, sid))) = self.socks.get_mut(id.slot as usize) else {
                return;
            };
            if *sid != id {
                return;
            }
            match s.write(pending) {
                Ok(0) => return,
                Ok(n) => self.streams.wrote(now, id, n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::debug!(target: NET, "TCP write: {e}");
                    self.fail(registry, id, CloseReason::Peer);
                    return;
                }
            }
        }
    }

    fn fail(&mut self, registry: &Registry, id: ConnId, reason: CloseReason) {
        let lost = self.streams.closed(id, reason);
        if lost > 0 {
            log::info!(
                "TCP connection closed ({}): {lost} queued bytes lost",
                reason.name()
            );
        }
        self.close_slot(registry, id.slot);
    }

    fn close_slot(&mut self, registry: &Registry, slot: u32) {
        if let Some(s) = self.socks.get_mut(slot as usize) {
            if let Some((mut sock, _)) = s.take() {
                let _ = registry.deregister(&mut sock);
            }
        }
    }

    /// Closes the sockets of connections the table closed on its own.
    fn reap(&mut self, registry: &Registry) {
        while let Some((id, _)) = self.streams.poll_close() {
            self.close_slot(registry, id.slot);
        }
        while let Some(id) = self.streams.poll_finished() {
            self.close_slot(registry, id.slot);
        }
    }

    /// Sends one message: on `connection` if it is still open (dropped if it closed), else on
    /// an open connection to `destination` (or, towards a phone, on the connection its address
    /// opened), else on a new connection from `source`'s address.
    pub fn send(
        &mut self,
        registry: &Registry,
        now: u64,
        connection: Option<ConnId>,
        source: SocketAddr,
        destination: SocketAddr,
        bytes: &[u8],
    ) {
        self.deadline.set(None);
        if connection.is_some_and(|c| !self.streams.is_open(c)) {
            // The proxy's answer to a request whose connection is gone (often closed for
            // misbehaving, with more of its requests read): no new connection back for it.
            log::debug!(target: NET, "TCP answer to {destination} dropped: its connection is closed");
            return;
        }
        let id = match self.streams.connection_for(connection, destination) {
            Some(id) => id,
            None => match self.connect(registry, now, source, destination) {
                Some(id) => id,
                None => {
                    self.streams.undeliverable(source, destination, bytes);
                    return;
                }
            },
        };
        if self.streams.send(id, bytes) {
            self.write(registry, now, id);
        }
        self.reap(registry);
    }

    fn connect(
        &mut self,
        registry: &Registry,
        now: u64,
        source: SocketAddr,
        dest: SocketAddr,
    ) -> Option<ConnId> {
        let sock = match open_connect(source, dest) {
            Ok(s) => s,
            Err(e) => {
                log::info!("TCP connect to {dest}: {e}");
                return None;
            }
        };
        let mut stream = TcpStream::from_std(sock.into());
        let local = stream.local_addr().unwrap_or(source);
        let Ok(id) = self.streams.open(now, dest, local) else {
            log::warn!("TCP table full: no connection to {dest}");
            return None;
        };
        if let Err(e) = registry.register(
            &mut stream,
            conn_token(id.slot),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            log::warn!("TCP connection to {dest}: {e}");
            self.streams.closed(id, CloseReason::ConnectFailed);
            return None;
        }
        self.close_slot(registry, id.slot);
        if let Some(s) = self.socks.get_mut(id.slot as usize) {
            *s = Some((stream, id));
        }
        log::debug!(target: NET, "TCP connecting to {dest} from {local} ({id})");
        Some(id)
    }

    pub fn poll_timeout(&self) -> Option<u64> {
        if !self.more.is_empty() {
            return Some(0);
        }
        if let Some(d) = self.deadline.get() {
            return d;
        }
        let d = self.streams.poll_timeout();
        self.deadline.set(Some(d));
        d
    }

    /// A message whose connection could not be opened: (local, peer, bytes).
    pub fn poll_undelivered(&mut self) -> Option<(SocketAddr, SocketAddr, Vec<u8>)> {
        self.streams.poll_undelivered()
    }

    /// Timers of the table: closes what expired, writes keepalive pings.
    pub fn handle_timeout(&mut self, registry: &Registry, now: u64) {
        self.deadline.set(None);
        self.streams.handle_timeout(now);
        self.reap(registry);
        let ids: heapless::Vec<ConnId, 64> = self
            .streams
            .iter(now)
            .filter(|c| c.queued > 0 && !c.connecting)
            .map(|c| c.id)
            .take(64)
            .collect();
        for id in ids {
            self.write(registry, now, id);
        }
        self.reap(registry);
    }
}

/// A non-blocking connect from `source`'s address (any port) to `dest`.
fn open_connect(source: SocketAddr, dest: SocketAddr) -> io::Result<Socket> {
    let sock = Socket::new(Domain::for_address(dest), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_nonblocking(true)?;
    if source.is_ipv4() == dest.is_ipv4() && !source.ip().is_unspecified() {
        sock.bind(&SocketAddr::new(source.ip(), 0).into())?;
    }
    match sock.connect(&dest.into()) {
        Ok(()) => Ok(sock),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(sock),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(sock),
        Err(e) => Err(e),
    }
}
