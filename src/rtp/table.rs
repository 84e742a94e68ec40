//! The relay half-stream table: keying, existing-entry rule, pairing, per-packet relay decision,
//! teardown and `rtp_timeout` aging (behaviour §5.4–§5.6, decisions §6).

use super::counters::{bump, HalfCounters, PacketDrop, TableStats};
use super::latch::{Admit, Latch};
use super::ports::PortAllocator;
use super::{ClientId, Kind, MediaInfo, RelaySockets, SlotId, StreamDirection, Token};
use crate::config::Config;
use crate::limits::{CALLID_SIZE, RTP_MAX_STREAMS, RTP_MIN_TIMEOUT_SECS};
use crate::logging;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// What the SDP rewriter knows about one media stream of one SDP body (behaviour §5.2/§5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRequest<'a> {
    pub call_id: &'a str,
    pub client_id: ClientId,
    /// CSeq number of the message carrying the SDP.
    pub cseq: u32,
    /// Where media arriving on the new port travels (`Incoming` = Internet → LAN).
    pub stream_dir: StreamDirection,
    pub call_dir: StreamDirection,
    /// 0-based index of the `m=` line.
    pub media_index: u16,
    /// Address to bind on: the real interface address even when `host_outbound` is advertised
    /// (§11 test 54).
    pub local_ip: IpAddr,
    /// SDP-signalled RTP address of the endpoint that owns this SDP, i.e. the endpoint media
    /// arriving on this half is delivered to. `0.0.0.0` = hold.
    pub remote: SocketAddr,
    /// Its `a=rtcp:` port if signalled; otherwise RTCP goes to `remote` port + 1.
    pub remote_rtcp_port: Option<u16>,
    /// Media kind and codec from the SDP, for the status snapshot only.
    pub media_info: Option<MediaInfo>,
}

/// Result of a successful [`Table::open`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    pub slot: SlotId,
    /// Local RTP address (the port to write into `m=`); RTCP is on port + 1.
    pub local: SocketAddr,
    /// `true` when an existing half was reused (retransmission, re-INVITE): nothing was bound.
    pub reused: bool,
}

/// Why a stream could not be opened; the proxy answers the call with 503 (decisions §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// Call-ID longer than `limits::CALLID_SIZE` bytes.
    CallIdTooLong { len: usize },
    /// Every one of the `max_rtp_streams` slots is in use.
    TableFull { capacity: usize },
    /// No even port of `rtp_port_low..=rtp_port_high` is free and bindable on this address.
    PortsExhausted { local_ip: IpAddr },
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::CallIdTooLong { len } => write!(
                f,
                "Call-ID of {len} bytes is longer than the {CALLID_SIZE} the RTP table stores"
            ),
            OpenError::TableFull { capacity } => {
                write!(
                    f,
                    "RTP relay table is full ({capacity} half-streams, max_rtp_streams)"
                )
            }
            OpenError::PortsExhausted { local_ip } => write!(
                f,
                "no free RTP port pair on {local_ip} in rtp_port_low..rtp_port_high"
            ),
        }
    }
}

impl std::error::Error for OpenError {}

/// The rtpbabl log's form of the verdict, the same text `{:?}` printed before the router
/// build dropped Debug: `Forward { out: Token(5), dst: 192.0.2.1:4000 }`, `Drop(NoPeer)`.
impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Forward { out, dst } => {
                write!(f, "Forward {{ out: Token({}), dst: {dst} }}", out.0)
            }
            Verdict::Drop(why) => write!(f, "Drop({why})"),
        }
    }
}

/// The relay's answer for one received datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send the datagram from the socket `out` to `dst`.
    Forward {
        out: Token,
        dst: SocketAddr,
    },
    Drop(PacketDrop),
}

/// One direction of one media stream of one call.
///
/// `repr(C)` keeps the declaration order: the fields every relayed packet reads or writes
/// come first, in the first cache lines of the slot, and the call's identity, read only when
/// a call is set up or torn down, after them (with 200 streams the table is larger than the
/// data cache).
#[derive(Debug, Clone, PartialEq, Eq)]
#[repr(C)]
pub struct Half {
    // ---- per packet ----
    peer: Option<SlotId>,
    remote_rtcp_port: Option<u16>,
    /// `remote` is publicly routable (decided when it is set, not per packet).
    remote_public: bool,
    /// A refused source was reported for this endpoint (once per stream: asymmetric media).
    foreign_reported: bool,
    /// Last RTP activity (ms), the base of the `rtp_timeout` deadline.
    last_activity: u64,
    remote: SocketAddr,
    /// Learned addresses of the endpoint `remote` names; destinations of this half's traffic.
    rtp_latch: Latch,
    rtcp_latch: Latch,
    counters: HalfCounters,
    /// Last RTP packet accepted on this half's socket (ms): which direction went quiet.
    last_rtp_in: Option<u64>,
    // ---- per call ----
    local: SocketAddr,
    cseq: u32,
    stream_dir: StreamDirection,
    call_dir: StreamDirection,
    media_index: u16,
    /// Part of the session a 2xx (or an ACK's answer) agreed on: a failed re-INVITE/UPDATE
    /// leaves it as it was (RFC 3261 §14.1) instead of closing it.
    established: bool,
    /// The established remote (and RTCP port) that a still unanswered offer replaced; put
    /// back if that offer fails.
    prior_remote: Option<(SocketAddr, Option<u16>)>,
    /// When the stream was first opened (ms); kept when it moves to a new port.
    opened_at: u64,
    call_id: heapless::String<CALLID_SIZE>,
    client_id: ClientId,
    media_info: MediaInfo,
}

impl Half {
    pub fn call_id(&self) -> &str {
        &self.call_id
    }
    pub fn client_id(&self) -> &ClientId {
        &self.client_id
    }
    pub fn cseq(&self) -> u32 {
        self.cseq
    }
    pub fn stream_dir(&self) -> StreamDirection {
        self.stream_dir
    }
    pub fn call_dir(&self) -> StreamDirection {
        self.call_dir
    }
    pub fn media_index(&self) -> u16 {
        self.media_index
    }
    /// Local RTP address; RTCP is bound on port + 1.
    pub fn local(&self) -> SocketAddr {
        self.local
    }
    /// SDP-signalled RTP address of the endpoint this half delivers to.
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }
    /// The opposite half, once both exist.
    pub fn peer(&self) -> Option<SlotId> {
        self.peer
    }
    pub fn last_activity(&self) -> u64 {
        self.last_activity
    }
    /// When the stream was first opened (ms, the table's clock).
    pub fn opened_at(&self) -> u64 {
        self.opened_at
    }
    /// When the last RTP packet from the sender was accepted on this half's socket (ms), unlike
    /// [`last_activity`](Self::last_activity) which either direction (and a new SDP) moves.
    pub fn last_rtp_in(&self) -> Option<u64> {
        self.last_rtp_in
    }
    /// What the latest SDP said the stream carries (empty if it said nothing usable).
    pub fn media_info(&self) -> &MediaInfo {
        &self.media_info
    }
    pub fn counters(&self) -> &HalfCounters {
        &self.counters
    }
    /// Confirmed by a 2xx to INVITE/UPDATE (or an ACK with SDP): see [`Table::confirm_call`].
    pub fn established(&self) -> bool {
        self.established
    }
    /// Learned address of the endpoint on `kind`'s socket, if latched.
    pub fn latched(&self, kind: Kind) -> Option<SocketAddr> {
        self.latch(kind).addr()
    }

    fn latch(&self, kind: Kind) -> &Latch {
        match kind {
            Kind::Rtp => &self.rtp_latch,
            Kind::Rtcp => &self.rtcp_latch,
        }
    }

    fn latch_mut(&mut self, kind: Kind) -> &mut Latch {
        match kind {
            Kind::Rtp => &mut self.rtp_latch,
            Kind::Rtcp => &mut self.rtcp_latch,
        }
    }

    /// New SDP address. A new address means the endpoint moved: learn it again. Hold
    /// (0.0.0.0) only asks not to be sent to; the endpoint stays where it was, and keeping its
    /// latch keeps strangers from feeding the other side meanwhile.
    fn set_remote(&mut self, remote: SocketAddr, rtcp_port: Option<u16>) {
        if self.remote == remote && self.remote_rtcp_port == rtcp_port {
            return;
        }
        log::debug!(
            target: logging::RTP,
            "RTP stream {} #{} remote {} -> {}",
            self.call_id,
            self.media_index,
            self.remote,
            remote
        );
        self.remote = remote;
        self.remote_public = super::latch::is_publicly_routable(remote.ip());
        self.remote_rtcp_port = rtcp_port;
        if !remote.ip().is_unspecified() {
            self.rtp_latch.reset();
            self.rtcp_latch.reset();
        }
    }

    /// Where datagrams arriving on this half's `kind` socket go. On hold (`0.0.0.0`) the
    /// endpoint asked not to receive media, so nothing goes anywhere, latch or not.
    pub fn destination(&self, kind: Kind) -> Option<SocketAddr> {
        if self.remote.ip().is_unspecified() {
            return None;
        }
        if let Some(a) = self.latch(kind).addr() {
            // Symmetric RTP: answer where the endpoint sends from. But a public SDP address
            // the endpoint does not send from (asymmetric media, taken only with
            // `rtp_latch_any_source`) is where it listens.
            let asymmetric =
                self.remote_public && a.ip().to_canonical() != self.remote.ip().to_canonical();
            if !asymmetric {
                return Some(a);
            }
        }
        let port = match kind {
            Kind::Rtp => Some(self.remote.port()),
            Kind::Rtcp => self
                .remote_rtcp_port
                .or_else(|| self.remote.port().checked_add(1)),
        };
        port.filter(|p| *p != 0)
            .map(|p| SocketAddr::new(self.remote.ip(), p))
    }
}

/// The half-stream table; see the module doc of `rtp`.
pub struct Table {
    slots: Box<[Option<Half>]>,
    /// One past the highest occupied slot: the per-message scans (open, pair, close, confirm)
    /// stop there instead of touching every preallocated slot, each several cache lines.
    hi: usize,
    ports: PortAllocator,
    timeout_ms: u64,
    open: usize,
    stats: TableStats,
    /// `rtp_latch_any_source`: an endpoint not latched yet takes the first source, whatever
    /// its SDP said (decisions §6, asymmetric media).
    latch_any_source: bool,
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("capacity", &self.slots.len())
            .field("open", &self.open)
            .field("ports", &self.ports)
            .field("timeout_ms", &self.timeout_ms)
            .field("stats", &self.stats)
            .finish()
    }
}

impl Table {
    /// `max_rtp_streams` half-streams (capped at `RTP_MAX_STREAMS`), allocated here once.
    /// `rtp_timeout` in seconds, at least `RTP_MIN_TIMEOUT_SECS`.
    pub fn new(
        max_rtp_streams: usize,
        rtp_port_low: u16,
        rtp_port_high: u16,
        rtp_timeout: u32,
    ) -> Table {
        let capacity = max_rtp_streams.min(RTP_MAX_STREAMS);
        Table {
            slots: (0..capacity).map(|_| None).collect(),
            hi: 0,
            ports: PortAllocator::new(rtp_port_low, rtp_port_high),
            timeout_ms: u64::from(rtp_timeout.max(RTP_MIN_TIMEOUT_SECS)) * 1000,
            open: 0,
            stats: TableStats::default(),
            latch_any_source: false,
        }
    }

    pub fn from_config(config: &Config) -> Table {
        let mut t = Table::new(
            config.max_rtp_streams,
            config.rtp_port_low,
            config.rtp_port_high,
            config.rtp_timeout,
        );
        t.latch_any_source = config.rtp_latch_any_source;
        t
    }

    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Number of open half-streams.
    pub fn len(&self) -> usize {
        self.open
    }

    pub fn is_empty(&self) -> bool {
        self.open == 0
    }

    pub fn stats(&self) -> &TableStats {
        &self.stats
    }

    pub fn half(&self, slot: SlotId) -> Option<&Half> {
        self.slots.get(slot.index()).and_then(Option::as_ref)
    }

    /// The slots up to the highest occupied one; every open half is in it.
    fn live(&self) -> &[Option<Half>] {
        self.slots.get(..self.hi).unwrap_or(&self.slots)
    }

    fn live_mut(&mut self) -> &mut [Option<Half>] {
        let hi = self.hi.min(self.slots.len());
        self.slots.get_mut(..hi).unwrap_or_default()
    }

    /// (local, remote) of the open half of `call_id`'s stream `media_index` whose media
    /// travels `dir`.
    pub fn partner(
        &self,
        call_id: &str,
        media_index: u16,
        dir: StreamDirection,
    ) -> Option<(SocketAddr, SocketAddr)> {
        self.live()
            .iter()
            .flatten()
            .find(|h| h.call_id == call_id && h.media_index == media_index && h.stream_dir == dir)
            .map(|h| (h.local, h.remote))
    }

    /// Open half-streams in slot order.
    pub fn halves(&self) -> impl Iterator<Item = (SlotId, &Half)> {
        self.live().iter().enumerate().filter_map(|(i, h)| {
            let h = h.as_ref()?;
            Some((SlotId(u32::try_from(i).ok()?), h))
        })
    }

    /// Start relaying one media stream (behaviour §5.4 "Start"). A half with the same Call-ID,
    /// stream direction and media index and a matching client id is a retransmission or
    /// re-INVITE: its remote is updated, its CSeq raised and its port returned unchanged.
    /// Otherwise a free slot gets the next bindable port pair and is paired with the opposite
    /// half if that exists. A matching half bound on another local address than
    /// `req.local_ip` (the interface address changed) is closed and replaced.
    ///
    /// SDP is all-or-nothing (decisions §6): if a later `m=` line of the same body fails, the
    /// caller closes the halves this body opened (`reused == false`) and answers 503.
    pub fn open(
        &mut self,
        now: u64,
        req: &StreamRequest<'_>,
        sockets: &mut dyn RelaySockets,
    ) -> Result<Opened, OpenError> {
        let mut call_id = heapless::String::<CALLID_SIZE>::new();
        call_id
            .push_str(req.call_id)
            .map_err(|()| OpenError::CallIdTooLong {
                len: req.call_id.len(),
            })?;

        // Session state a moved stream keeps: it is the same stream on a new port.
        let mut carried = (false, None, now);
        if let Some(i) = self.find_existing(req) {
            let moved = self
                .slots
                .get(i)
                .and_then(Option::as_ref)
                .filter(|h| h.local.ip() != req.local_ip.to_canonical());
            let Some(h) = moved else {
                return Ok(self.update_existing(i, now, req));
            };
            carried.2 = h.opened_at;
            if h.established {
                let prior = h.prior_remote.unwrap_or((h.remote, h.remote_rtcp_port));
                carried = (true, Some(prior), h.opened_at);
            }
            // The interface address changed (PPP reconnect, decisions §3): the old port is on
            // an address the SDP no longer advertises, so the stream moves to a new port.
            log::debug!(
                target: logging::RTP,
                "RTP stream {} #{} moves to {}",
                req.call_id,
                req.media_index,
                req.local_ip
            );
            if let Ok(s) = u32::try_from(i) {
                self.close(SlotId(s), sockets);
            }
        }

        let Some(i) = self.slots.iter().position(Option::is_none) else {
            bump(&mut self.stats.table_full);
            return Err(OpenError::TableFull {
                capacity: self.capacity(),
            });
        };
        let slot = SlotId(u32::try_from(i).unwrap_or(u32::MAX));
        let local_ip = req.local_ip.to_canonical();
        let local = self.bind_pair(slot, local_ip, sockets)?;

        if let Some(entry) = self.slots.get_mut(i) {
            *entry = Some(Half {
                call_id,
                client_id: req.client_id.clone(),
                cseq: req.cseq,
                stream_dir: req.stream_dir,
                call_dir: req.call_dir,
                media_index: req.media_index,
                local,
                remote: canonical(req.remote),
                remote_public: super::latch::is_publicly_routable(canonical(req.remote).ip()),
                remote_rtcp_port: req.remote_rtcp_port,
                peer: None,
                last_activity: now,
                rtp_latch: Latch::default(),
                rtcp_latch: Latch::default(),
                counters: HalfCounters::default(),
                established: carried.0,
                prior_remote: carried.1,
                opened_at: carried.2,
                media_info: req.media_info.clone().unwrap_or_default(),
                last_rtp_in: None,
                foreign_reported: false,
            });
        }
        self.open = self.open.saturating_add(1);
        self.hi = self.hi.max(i.saturating_add(1));
        bump(&mut self.stats.opened);
        self.pair(i);
        log::debug!(
            target: logging::RTP,
            "RTP stream {} #{} {} opened on {} for {} (peer {})",
            req.call_id,
            req.media_index,
            req.stream_dir,
            local,
            req.remote,
            match self.slots.get(i).and_then(Option::as_ref).and_then(|h| h.peer) {
                Some(p) => format!("slot {}", p.0),
                None => "none yet".to_owned(),
            }
        );
        Ok(Opened {
            slot,
            local,
            reused: false,
        })
    }

    fn find_existing(&self, req: &StreamRequest<'_>) -> Option<usize> {
        self.live().iter().position(|h| {
            h.as_ref().is_some_and(|h| {
                h.call_id.as_str() == req.call_id
                    && h.stream_dir == req.stream_dir
                    && h.media_index == req.media_index
                    && h.client_id.matches(&req.client_id)
            })
        })
    }

    fn update_existing(&mut self, i: usize, now: u64, req: &StreamRequest<'_>) -> Opened {
        let slot = SlotId(u32::try_from(i).unwrap_or(u32::MAX));
        let mut local = SocketAddr::new(req.local_ip, 0);
        let mut unpaired = false;
        if let Some(Some(h)) = self.slots.get_mut(i) {
            let remote = canonical(req.remote);
            let changed = h.remote != remote || h.remote_rtcp_port != req.remote_rtcp_port;
            if changed && h.established && h.prior_remote.is_none() {
                h.prior_remote = Some((h.remote, h.remote_rtcp_port));
            }
            h.set_remote(remote, req.remote_rtcp_port);
            h.cseq = h.cseq.max(req.cseq);
            h.last_activity = now;
            // A re-INVITE may change the codec.
            if let Some(info) = &req.media_info {
                h.media_info.clone_from(info);
            }
            local = h.local;
            unpaired = h.peer.is_none();
        }
        if unpaired {
            self.pair(i);
        }
        bump(&mut self.stats.reused);
        Opened {
            slot,
            local,
            reused: true,
        }
    }

    /// Round robin over the range, skipping pairs used on the same local address, until the
    /// shell binds one.
    fn bind_pair(
        &mut self,
        slot: SlotId,
        local_ip: IpAddr,
        sockets: &mut dyn RelaySockets,
    ) -> Result<SocketAddr, OpenError> {
        let mut failures = 0u64;
        let mut bound = None;
        for port in self.ports.candidates() {
            if self.port_in_use(local_ip, port) {
                continue;
            }
            let addr = SocketAddr::new(local_ip, port);
            if sockets.open_pair(slot, addr) {
                bound = Some(addr);
                break;
            }
            failures = failures.wrapping_add(1);
            log::debug!(target: logging::RTP, "RTP bind {addr} (+1) failed, trying next");
        }
        self.stats.bind_failures = self.stats.bind_failures.wrapping_add(failures);
        match bound {
            Some(addr) => {
                self.ports.allocated(addr.port());
                Ok(addr)
            }
            None => {
                bump(&mut self.stats.ports_exhausted);
                Err(OpenError::PortsExhausted { local_ip })
            }
        }
    }

    /// Whether RTP port `port` or its RTCP port collides with a half bound on `ip`.
    fn port_in_use(&self, ip: IpAddr, port: u16) -> bool {
        let p = u32::from(port);
        self.live().iter().flatten().any(|h| {
            let q = u32::from(h.local.port());
            h.local.ip() == ip && (q == p || q + 1 == p || q == p + 1)
        })
    }

    /// Links half `i` with the opposite half: same Call-ID, call direction and media index,
    /// opposite stream direction (client id not used, behaviour §5.4 step 7). An unpaired
    /// candidate is preferred.
    fn pair(&mut self, i: usize) {
        let Some(Some(me)) = self.slots.get(i) else {
            return;
        };
        let mut best = None;
        for (j, h) in self.live().iter().enumerate() {
            let Some(h) = h else { continue };
            if j == i
                || h.call_id != me.call_id
                || h.call_dir != me.call_dir
                || h.media_index != me.media_index
                || h.stream_dir != me.stream_dir.opposite()
            {
                continue;
            }
            if h.peer.is_none() {
                best = Some(j);
                break;
            }
            best = best.or(Some(j));
        }
        let Some(j) = best else { return };
        let (Ok(si), Ok(sj)) = (u32::try_from(i), u32::try_from(j)) else {
            return;
        };
        let old = self
            .slots
            .get(j)
            .and_then(Option::as_ref)
            .and_then(|h| h.peer);
        if let Some(old) = old {
            if let Some(Some(h)) = self.slots.get_mut(old.index()) {
                h.peer = None;
            }
        }
        if let Some(Some(h)) = self.slots.get_mut(j) {
            h.peer = Some(SlotId(si));
        }
        if let Some(Some(h)) = self.slots.get_mut(i) {
            h.peer = Some(SlotId(sj));
        }
    }

    /// Relay decision for one datagram of `len` bytes from `src`, received on the socket
    /// `token` (the hot path: no allocation, no string work).
    ///
    /// The datagram goes out of the opposite half's socket of the same kind to this half's
    /// destination. Its source must be the endpoint the opposite half delivers to, checked and
    /// learned by that half's latch. Accepted RTP refreshes both halves' timeout.
    pub fn on_packet(&mut self, now: u64, token: Token, src: SocketAddr, len: usize) -> Verdict {
        let idx = token.slot().index();
        let kind = token.kind();
        let (peer, dst) = match self.slots.get_mut(idx) {
            Some(Some(h)) => {
                let step = if len == 0 {
                    Err(PacketDrop::Empty)
                } else {
                    h.peer.ok_or(PacketDrop::NoPeer)
                };
                match step {
                    Ok(peer) => (peer, h.destination(kind)),
                    Err(reason) => {
                        h.counters.dropped(reason);
                        return Verdict::Drop(reason);
                    }
                }
            }
            _ => {
                bump(&mut self.stats.unknown_token);
                return Verdict::Drop(PacketDrop::UnknownToken);
            }
        };

        let any_source = self.latch_any_source;
        let admit = match self.slots.get_mut(peer.index()) {
            Some(Some(p)) => {
                let signalled = p.remote.ip();
                let latch = p.latch_mut(kind);
                let never_latched = latch.addr().is_none();
                let admit = latch.admit_with(now, signalled, src, any_source);
                if admit != Admit::Refused && kind == Kind::Rtp {
                    p.last_activity = now;
                }
                if admit == Admit::Refused && never_latched && !p.foreign_reported {
                    // Once per stream: a far end whose media comes from another address than
                    // its SDP says (asymmetric media) would otherwise be a silent call.
                    p.foreign_reported = true;
                    log::warn!(
                        "call {}: media from {src} refused, its SDP names {signalled} (anti-bleed, \
                         decisions §6); if this far end sends from other addresses than its SDP, \
                         set rtp_latch_any_source = 1",
                        p.call_id
                    );
                }
                admit
            }
            // A dangling peer link cannot happen (close clears it); treat it as unpaired.
            _ => Admit::Refused,
        };

        let Some(Some(h)) = self.slots.get_mut(idx) else {
            return Verdict::Drop(PacketDrop::UnknownToken);
        };
        let verdict = match (admit, dst) {
            (Admit::Refused, _) => Verdict::Drop(PacketDrop::ForeignSource),
            (_, None) => Verdict::Drop(PacketDrop::NoDestination),
            (_, Some(dst)) => Verdict::Forward {
                out: Token::new(peer, kind),
                dst,
            },
        };
        if admit != Admit::Refused && kind == Kind::Rtp {
            h.last_activity = now;
            h.last_rtp_in = Some(now);
        }
        match verdict {
            Verdict::Forward { .. } => h.counters.forwarded(len),
            Verdict::Drop(reason) => h.counters.dropped(reason),
        }
        if admit == Admit::Latched {
            bump(&mut self.stats.latches);
            log::debug!(
                target: logging::RTP,
                "RTP stream {} #{} {}: latched {} source {}",
                h.call_id,
                h.media_index,
                h.stream_dir,
                kind,
                src
            );
        }
        verdict
    }

    /// Close one half (e.g. after a fatal send error on its stream).
    pub fn close(&mut self, slot: SlotId, sockets: &mut dyn RelaySockets) -> bool {
        let Some(entry) = self.slots.get_mut(slot.index()) else {
            return false;
        };
        let Some(h) = entry.take() else {
            return false;
        };
        if let Some(p) = h.peer {
            if let Some(Some(peer)) = self.slots.get_mut(p.index()) {
                if peer.peer == Some(slot) {
                    peer.peer = None;
                }
            }
        }
        sockets.close_pair(slot, h.local);
        self.open = self.open.saturating_sub(1);
        while self.hi > 0 && self.slots.get(self.hi - 1).is_some_and(Option::is_none) {
            self.hi -= 1;
        }
        bump(&mut self.stats.closed);
        log::debug!(
            target: logging::RTP,
            "RTP stream {} #{} {} on {} closed ({} packets, {} bytes, {} dropped)",
            h.call_id,
            h.media_index,
            h.stream_dir,
            h.local,
            h.counters.packets,
            h.counters.bytes,
            h.counters.dropped_total()
        );
        true
    }

    fn close_where(
        &mut self,
        sockets: &mut dyn RelaySockets,
        pred: impl Fn(&Half) -> bool,
    ) -> usize {
        let mut n = 0;
        for i in 0..self.hi {
            let hit = self
                .slots
                .get(i)
                .and_then(Option::as_ref)
                .is_some_and(&pred);
            if hit {
                if let Ok(s) = u32::try_from(i) {
                    if self.close(SlotId(s), sockets) {
                        n += 1;
                    }
                }
            }
        }
        n
    }

    /// BYE or CANCEL: every half of the Call-ID, all media, both directions, any leg (§5.6).
    pub fn close_call(&mut self, call_id: &str, sockets: &mut dyn RelaySockets) -> usize {
        self.close_where(sockets, |h| h.call_id.as_str() == call_id)
    }

    /// 4xx–6xx to INVITE/UPDATE with CSeq `cseq`: the failed offer is undone on the halves
    /// of the Call-ID whose stored CSeq is ≤ `cseq` (a late error for an earlier attempt spares
    /// streams of a later one, §5.6). Halves not yet [established](Self::confirm_call) (a call
    /// that never got its 2xx, streams a failed re-INVITE added) are closed; established ones
    /// stay open and get back the remote the failed offer replaced, because a failed
    /// re-INVITE leaves the session as it was (RFC 3261 §14.1). Returns the number closed.
    pub fn close_call_up_to_cseq(
        &mut self,
        call_id: &str,
        cseq: u32,
        sockets: &mut dyn RelaySockets,
    ) -> usize {
        let failed = |h: &Half| h.call_id.as_str() == call_id && h.cseq <= cseq;
        for h in self.live_mut().iter_mut().flatten() {
            if failed(h) && h.established {
                if let Some((remote, rtcp)) = h.prior_remote.take() {
                    h.set_remote(remote, rtcp);
                }
            }
        }
        self.close_where(sockets, |h| failed(h) && !h.established)
    }

    /// 2xx to INVITE/UPDATE with CSeq `cseq`, or an ACK carrying the answer to a 2xx's offer:
    /// the halves of the Call-ID with stored CSeq ≤ `cseq` are the agreed session. From now on
    /// an error response only undoes later offers on them. Returns the number of halves.
    pub fn confirm_call(&mut self, call_id: &str, cseq: u32) -> usize {
        let mut n = 0;
        for h in self.live_mut().iter_mut().flatten() {
            if h.call_id.as_str() == call_id && h.cseq <= cseq {
                h.established = true;
                h.prior_remote = None;
                n += 1;
            }
        }
        n
    }

    /// Shutdown.
    pub fn close_all(&mut self, sockets: &mut dyn RelaySockets) -> usize {
        self.close_where(sockets, |_| true)
    }

    fn deadline(&self, h: &Half) -> u64 {
        h.last_activity.saturating_add(self.timeout_ms)
    }

    /// Earliest `rtp_timeout` deadline of an open half (ms), for the shell's poll timeout.
    pub fn next_deadline(&self) -> Option<u64> {
        self.live().iter().flatten().map(|h| self.deadline(h)).min()
    }

    /// Close every half silent for `rtp_timeout` (deadline ≤ `now`), individually (§5.4).
    pub fn expire(&mut self, now: u64, sockets: &mut dyn RelaySockets) -> usize {
        let timeout_ms = self.timeout_ms;
        let mut n = 0;
        for i in 0..self.hi {
            let Some(Some(h)) = self.slots.get(i) else {
                continue;
            };
            if h.last_activity.saturating_add(timeout_ms) > now {
                continue;
            }
            log::info!(
                "RTP stream {} #{} {} on {} has expired",
                h.call_id,
                h.media_index,
                h.stream_dir,
                h.local
            );
            if let Ok(s) = u32::try_from(i) {
                if self.close(SlotId(s), sockets) {
                    bump(&mut self.stats.expired);
                    n += 1;
                }
            }
        }
        n
    }
}

fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Records binds/closes; refuses binds of listed addresses.
    #[derive(Default)]
    struct FakeSockets {
        bound: HashSet<SocketAddr>,
        refuse: HashSet<SocketAddr>,
        binds: usize,
        closes: Vec<(SlotId, SocketAddr)>,
    }

    impl RelaySockets for FakeSockets {
        fn open_pair(&mut self, _slot: SlotId, rtp: SocketAddr) -> bool {
            let rtcp = SocketAddr::new(rtp.ip(), rtp.port() + 1);
            if self.refuse.contains(&rtp) || self.bound.contains(&rtp) || self.bound.contains(&rtcp)
            {
                return false;
            }
            self.bound.insert(rtp);
            self.bound.insert(rtcp);
            self.binds += 1;
            true
        }
        fn close_pair(&mut self, slot: SlotId, rtp: SocketAddr) {
            assert!(self.bound.remove(&rtp), "closing unbound {rtp}");
            assert!(self
                .bound
                .remove(&SocketAddr::new(rtp.ip(), rtp.port() + 1)));
            self.closes.push((slot, rtp));
        }
    }

    const I: &str = "192.168.1.1";
    const O: &str = "203.0.113.5";

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }
    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn req<'a>(
        call_id: &'a str,
        dir: StreamDirection,
        local: &str,
        remote: &str,
    ) -> StreamRequest<'a> {
        let remote = sa(remote);
        StreamRequest {
            call_id,
            client_id: ClientId::new("alice@example.com", remote.ip()),
            cseq: 1,
            stream_dir: dir,
            call_dir: StreamDirection::Outgoing,
            media_index: 0,
            local_ip: ip(local),
            remote,
            remote_rtcp_port: None,
            media_info: None,
        }
    }

    /// An outgoing call from A (LAN) to B (WAN), both halves open: (E1 on O, E2 on I).
    fn call(t: &mut Table, s: &mut FakeSockets, call_id: &str) -> (Opened, Opened) {
        let e1 = t
            .open(
                0,
                &req(call_id, StreamDirection::Incoming, O, "192.168.1.10:4000"),
                s,
            )
            .unwrap();
        let e2 = t
            .open(
                0,
                &req(call_id, StreamDirection::Outgoing, I, "198.51.100.30:5000"),
                s,
            )
            .unwrap();
        (e1, e2)
    }

    fn table() -> Table {
        Table::new(16, 7070, 7089, 300)
    }

    /// The scans stop at the highest occupied slot: a call whose halves sit above closed
    /// slots is still found, paired, confirmed and closed, and a port of such a half is not
    /// handed out twice.
    #[test]
    fn halves_above_closed_slots_are_still_seen() {
        let (mut t, mut s) = (Table::new(16, 7070, 7199, 300), FakeSockets::default());
        call(&mut t, &mut s, "low");
        let (e1, e2) = call(&mut t, &mut s, "high");
        assert_eq!((e1.slot.index(), e2.slot.index()), (2, 3));
        assert_eq!(t.close_call("low", &mut s), 2);
        assert_eq!(t.hi, 4, "slots 2 and 3 are still open");
        assert_eq!(t.confirm_call("high", 1), 2);
        assert_eq!(
            t.partner("high", 0, StreamDirection::Incoming),
            Some((e1.local, sa("192.168.1.10:4000")))
        );
        // A retransmitted offer finds its half in slot 2, not a new slot.
        let again = t
            .open(
                0,
                &req("high", StreamDirection::Incoming, O, "192.168.1.10:4000"),
                &mut s,
            )
            .unwrap();
        assert_eq!(again.slot, e1.slot);
        // A new call takes the freed slots 0 and 1 and other ports than the open halves'.
        let (n1, n2) = call(&mut t, &mut s, "new");
        assert_eq!((n1.slot.index(), n2.slot.index()), (0, 1));
        assert!(n1.local != e1.local && n2.local != e2.local);
        assert_eq!(t.half(n1.slot).and_then(|h| h.peer), Some(n2.slot));
        assert_eq!(t.close_call("high", &mut s), 2);
        assert_eq!(t.hi, 2);
        assert_eq!(t.close_call("new", &mut s), 2);
        assert_eq!((t.hi, t.len()), (0, 0));
    }

    #[test]
    fn consecutive_streams_on_one_address_get_consecutive_even_ports() {
        let (mut t, mut s) = (table(), FakeSockets::default());
        let ports: Vec<u16> = (0..3)
            .map(|n| {
                let id = format!("c{n}");
                t.open(
                    0,
                    &req(&id, StreamDirection::Incoming, O, "192.168.1.10:4000"),
                    &mut s,
                )
                .unwrap()
                .local
                .port()
            })
            .collect();
        assert_eq!(ports, vec![7070, 7072, 7074]);
        assert_eq!(s.binds, 3);
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn same_port_number_is_reused_on_the_other_address() {
        let mut t = Table::new(16, 7070, 7073, 300);
        let mut s = FakeSockets::default();
        let mut open = |t: &mut Table, id: &str, local: &str| {
            t.open(
                0,
                &req(id, StreamDirection::Incoming, local, "192.168.1.10:4000"),
                &mut s,
            )
            .map(|o| o.local)
        };
        assert_eq!(open(&mut t, "a", I), Ok(sa("192.168.1.1:7070")));
        assert_eq!(open(&mut t, "b", O), Ok(sa("203.0.113.5:7072")));
        // Round robin wraps to 7070, free on O although I uses it.
        assert_eq!(open(&mut t, "c", O), Ok(sa("203.0.113.5:7070")));
        // Only 7072 is left on I.
        assert_eq!(open(&mut t, "d", I), Ok(sa("192.168.1.1:7072")));
        assert_eq!(
            open(&mut t, "e", I),
            Err(OpenError::PortsExhausted { local_ip: ip(I) })
        );
    }

    #[test]
    fn two_pair_range_exhausts_then_recovers_after_close() {
        let mut t = Table::new(16, 7070, 7073, 300);
        let mut s = FakeSockets::default();
        let a = t
            .open(
                0,
                &req("a", StreamDirection::Incoming, O, "192.168.1.10:4000"),
                &mut s,
            )
            .unwrap();
        t.open(
            0,
            &req("b", StreamDirection::Incoming, O, "192.168.1.10:4000"),
            &mut s,
        )
        .unwrap();
        let err = t
            .open(
                0,
                &req("c", StreamDirection::Incoming, O, "192.168.1.10:4000"),
                &mut s,
            )
            .unwrap_err();
        assert_eq!(err, OpenError::PortsExhausted { local_ip: ip(O) });
        assert!(err.to_string().contains("203.0.113.5"), "{err}");
        assert_eq!(t.len(), 2, "a failed open must not keep a slot");
        assert_eq!(t.stats().ports_exhausted, 1);
        assert_eq!(t.close_call("a", &mut s), 1);
        let c = t
            .open(
                0,
                &req("c", StreamDirection::Incoming, O, "192.168.1.10:4000"),
                &mut s,
            )
            .unwrap();
        assert_eq!(c.local, a.local);
    }

    #[test]
    fn failed_bind_moves_on_to_the_next_pair() {
        let (mut t, mut s) = (table(), FakeSockets::default());
        s.refuse.insert(sa("203.0.113.5:7070"));
        let o = t
            .open(
                0,
                &req("a", StreamDirection::Incoming, O, "192.168.1.10:4000"),
                &mut s,
            )
            .unwrap();
        assert_eq!(o.local, sa("203.0.113.5:7072"));
        assert_eq!(t.stats().bind_failures, 1);
    }

    #[test]
    fn empty_range_always_fails() {
        let mut t = Table::new(16, 0, 0, 300);
        let mut s = FakeSockets::default();
        assert!(matches!(
            t.open(
                0,
                &req("a", StreamDirection::Incoming, O, "192.168.1.10:4000"),
                &mut s
            ),
            Err(OpenError::PortsExhausted { .. })
        ));
        assert_eq!(s.binds, 0);
    }

    #[test]
    fn full_table_is_an_error_value() {
        let mut t = Table::new(2, 7070, 7089, 300);
        let mut s = FakeSockets::default();
        call(&mut t, &mut s, "x");
        let err = t
            .open(
                0,
                &req("y", StreamDirection::Incoming, O, "192.168.1.10:4000"),
                &mut s,
            )
            .unwrap_err();
        assert_eq!(err, OpenError::TableFull { capacity: 2 });
        assert_eq!(t.stats().table_full, 1);
        assert_eq!(s.binds, 2);
    }

    #[test]
    fn overlong_call_id_is_refused() {
        let (mut t, mut s) = (table(), FakeSockets::default());
        let long = "x".repeat(CALLID_SIZE + 1);
        assert_eq!(
            t.open(
                0,
                &req(&long, StreamDirection::Incoming, O, "192.168.1.10:4000"),
                &mut s
            ),
            Err(OpenError::CallIdTooLong {
                len: CALLID_SIZE + 1
            })
        );
        let max = "x".repeat(CALLID_SIZE);
        assert!(t
            .open(
                0,
                &req(&max, StreamDirection::Incoming, O, "192.168.1.10:4000"),
                &mut s
            )
            .is_ok());
    }

    #[test]
    fn reinvite_reuses_port_updates_remote_and_raises_cseq() {
        let (mut t, mut s) = (table(), FakeSockets::default());
        let (e1, _) = call(&mut t, &mut s, "c");
        let mut r = req("c", StreamDirection::Incoming, O, "192.168.1.10:4002");
        r.cseq = 2;
        let again = t.open(10, &r, &mut s).unwrap();
        assert_eq!(again.local, e1.local);
        assert!(again.reused);
        assert_eq!(again.slot, e1.slot);
        assert_eq!(s.binds, 2, "no new bind");
        let h = t.half(e1.slot).unwrap();
        assert_eq!(h.remote(), sa("192.168.1.10:4002"));
        assert_eq!(h.cseq(), 2);
        // A late retransmission of CSeq 1 does not lower it.
        r.cseq = 1;
        t.open(11, &r, &mut s).unwrap();
        assert_eq!(t.half(e1.slot).unwrap().cseq(), 2);
        assert_eq!(t.stats().reused, 2);
    }

    #[test]
    fn other_media_index_or_client_gets_its_own_port() {
        let (mut t, mut s) = (table(), FakeSockets::default());
        let (e1, _) = call(&mut t, &mut s, "c");
        let mut video = req("c", StreamDirection::Incoming, O, "192.168.1.10:4002");
        video.media_index = 1;
        assert_ne!(t.open(0, &video, &mut s).unwrap().local, e1.local);
        // Same Call-ID passing siproxd a second time from another UA (looped call).
        let mut other = req("c", StreamDirection::Incoming, O, "192.168.1.11:4000");
        other.client_id = ClientId::new("bob@example.com", ip("192.168.1.11"));
        let o = t.open(0, &other, &mut s).unwrap();
        assert!(!o.reused);
        assert_ne!(o.local, e1.local);
    }

    #[test]
    fn reinvite_after_interface_address_change_moves_the_stream() {
        let (mut t, mut s) = (table(), FakeSockets::default());
        let (e1, e2) = call(&mut t, &mut s, "c");
        let moved = t
            .open(
                5,
                &req(
                    "c",
                    StreamDirection::Incoming,
                    "203.0.113.9",
                    "192.168.1.10:4000",
                ),
                &mut s,
            )
            .unwrap();
        assert!(!moved.reused);
        assert_eq!(moved.local.ip(), ip("203.0.113.9"));
        // The freed slot is the first free one, so it is reused.
        assert_eq!(moved.slot, e1.slot);
        assert_eq!(t.len(), 2);
        assert!(!s.bound.contains(&e1.local), "old port released");
        assert_eq!(t.half(moved.slot).unwrap().peer(), Some(e2.slot));
        assert_eq!(t.half(e2.slot).unwrap().peer(), Some(moved.slot));
        // A retransmission of that re-INVITE finds the moved half.
        let again = t
            .open(
                6,
                &req(
                    "c",
                    StreamDirection::Incoming,
                    "203.0.113.9",
                    "192.168.1.10:4000",
                ),
                &mut s,
            )
            .unwrap();
        assert_eq!((again.local, again.reused), (moved.local, true));
    }

    #[test]
    fn open_time_and_codec_survive_reuse_and_moves() {
        let (mut t, mut s) = (table(), FakeSockets::default());
        let codec = |pt: u8, name: &str| MediaInfo {
            kind: heapless::String::try_from("audio").unwrap(),
            payload_type: Some(pt),
            codec: heapless::String::try_from(name).unwrap(),
        };
        let mut r = req("c", StreamDirection::Incoming, O, "192.168.1.10:4000");
        r.media_info = Some(codec(0, "PCMU"));
        let e1 = t.open(1000, &r, &mut s).unwrap();
        let h = t.half(e1.slot).unwrap();
        assert_eq!((h.opened_at(), h.media_info()), (1000, &codec(0, "PCMU")));
        // A re-INVITE switching to G.722 updates the codec, not the open time.
        r.media_info = Some(codec(9, "G722"));
        t.open(5000, &r, &mut s).unwrap();
        let h = t.half(e1.slot).unwrap();
        assert_eq!((h.opened_at(), h.media_info()), (1000, &codec(9, "G722")));
        // One without SDP details keeps what is known.
        r.media_info = None;
        t.open(6000, &r, &mut s).unwrap();
        assert_eq!(t.half(e1.slot).unwrap().media_info(), &codec(9, "G722"));
        // Moved to a new interface address: the same stream, still opened at 1000.
        r.local_ip = ip("203.0.113.9");
        r.media_info = Some(codec(9, "G722"));
        let moved = t.open(7000, &r, &mut s).unwrap();
        assert!(!moved.reused);
        assert_eq!(t.half(moved.slot).unwrap().opened_at(), 1000);
        // A new stream without details has an empty one.
        let other = t
            .open(
                8000,
                &req("d", StreamDirection::Incoming, O, "192.168.1.11:4000"),
                &mut s,
            )
            .unwrap();
        let h = t.half(other.slot).unwrap();
        assert_eq!(
            (h.opened_at(), h.media_info()),
            (8000, &MediaInfo::default())
        );
    }

    #[test]
    fn rtcp_mux_packets_on_the_rtp_socket_follow_rtp() {
        // With a=rtcp-mux the endpoints send RTCP to the RTP port; it is relayed like RTP.
        let (mut t, mut s) = (table(), FakeSockets::default());
        let (e1, e2) = call(&mut t, &mut s, "c");
        let rtcp_packet_len = 52;
        assert_eq!(
            t.on_packet(
                0,
                Token::rtp(e2.slot),
                sa("192.168.1.10:4000"),
                rtcp_packet_len
            ),
            Verdict::Forward {
                out: Token::rtp(e1.slot),
                dst: sa("198.51.100.30:5000")
            }
        );
    }

    #[test]
    fn pairing_links_opposite_stream_directions_of_the_same_call() {
        let (mut t, mut s) = (table(), FakeSockets::default());
        let (e1, e2) = call(&mut t, &mut s, "c");
        assert_eq!(t.half(e1.slot).unwrap().peer(), Some(e2.slot));
        assert_eq!(t.half(e2.slot).unwrap().peer(), Some(e1.slot));
        // Another call, other media index, other call direction: no pairing.
        let d = t
            .open(
                0,
                &req("d", StreamDirection::Outgoing, I, "198.51.100.30:5000"),
                &mut s,
            )
            .unwrap();
        assert_eq!(t.half(d.slot).unwrap().peer(), None);
        let mut m1 = req("c", StreamDirection::Outgoing, I, "198.51.100.30:5002");
        m1.media_index = 1;
        let m1 = t.open(0, &m1, &mut s).unwrap();
        assert_eq!(t.half(m1.slot).unwrap().peer(), None);
        let mut incoming_call = req("c", StreamDirection::Outgoing, I, "198.51.100.30:5004");
        incoming_call.call_dir = StreamDirection::Incoming;
        incoming_call.client_id = ClientId::new("", ip("198.51.100.99"));
        let ic = t.open(0, &incoming_call, &mut s).unwrap();
        assert_eq!(t.half(ic.slot).unwrap().peer(), None);
        assert_eq!(t.half(e1.slot).unwrap().peer(), Some(e2.slot));
    }

    #[test]
    fn closing_a_half_unlinks_its_peer_and_a_new_half_pairs_again() {
        let (mut t, mut s) = (table(), FakeSockets::default());
        let (e1, e2) = call(&mut t, &mut s, "c");
        assert!(t.close(e2.slot, &mut s));
        assert!(!t.close(e2.slot, &mut s));
        assert_eq!(t.half(e1.slot).unwrap().peer(), None);
        let e3 = t
            .open(
                0,
                &req("c", StreamDirection::Outgoing, I, "198.51.100.30:5000"),
                &mut s,
            )
            .unwrap();
        assert_eq!(t.half(e1.slot).unwrap().peer(), Some(e3.slot));
        assert_eq!(t.half(e3.slot).unwrap().peer(), Some(e1.slot));
    }

    #[test]
    fn packets_flow_both_ways_and_are_counted() {
        let (mut t, mut s) = (table(), FakeSockets::default());
        let (e1, e2) = call(&mut t, &mut s, "c");
        assert_eq!(t.half(e2.slot).unwrap().last_rtp_in(), None);
        // A → I:7072 goes out of O:7070 to B.
        assert_eq!(
            t.on_packet(1, Token::rtp(e2.slot), sa("192.168.1.10:4000"), 172),
            Verdict::Forward {
                out: Token::rtp(e1.slot),
                dst: sa("198.51.100.30:5000")
            }
        );
        // B → O:7070 goes out of I:7072 to A.
        assert_eq!(
            t.on_packet(2, Token::rtp(e1.slot), sa("198.51.100.30:5000"), 100),
            Verdict::Forward {
                out: Token::rtp(e2.slot),
                dst: sa("192.168.1.10:4000")
            }
        );
        // RTCP: remote port + 1, out of the opposite RTCP socket.
        assert_eq!(
            t.on_packet(3, Token::rtcp(e2.slot), sa("192.168.1.10:4001"), 60),
            Verdict::Forward {
                out: Token::rtcp(e1.slot),
                dst: sa("198.51.100.30:5001")
            }
        );
        let c2 = t.half(e2.slot).unwrap().counters();
        assert_eq!((c2.packets, c2.bytes), (2, 232));
        // Each socket knows when its own sender last sent RTP (RTCP does not count).
        assert_eq!(t.half(e2.slot).unwrap().last_rtp_in(), Some(1));
        assert_eq!(t.half(e1.slot).unwrap().last_rtp_in(), Some(2));
        assert_eq!(t.half(e2.slot).unwrap().last_activity(), 2);
        let c1 = t.half(e1.slot).unwrap().counters();
        assert_eq!((c1.packets, c1.bytes), (1, 100));
        assert_eq!(t.stats().latches, 3);
    }

    #[test]
    fn explicit_rtcp_port_is_used() {
        let (mut t, mut s) = (table(), FakeSockets::default());
        let e1 = t
            .open(
                0,
                &req("c", StreamDirection::Incoming, O, "192.168.1.10:4000"),
                &mut s,
            )
            .unwrap();
        let mut r = req("c", StreamDirection::Outgoing, I, "198.51.100.30:5000");
        r.remote_rtcp_port = Some(6000);
        let e2 = t.open(0, &r, &mut s).unwrap();
        assert_eq!(
            t.on_packet(0, Token::rtcp(e2.slot), sa("192.168.1.10:4001"), 60),
            Verdict::Forward {
                out: Token::rtcp(e1.slot),
                dst: sa("198.51.100.30:6000")
            }
        );
    }

    #[test]
    fn empty_unknown_and_unpaired_packets_are_dropped() {
        let (mut t, mut s) = (table(), FakeSockets::default());
        let e1 = t
            .open(
                0,
                &req("c", StreamDirection::Incoming, O, "192.168.1.10:4000"),
                &mut s,
            )
            .unwrap();
        assert_eq!(
            t.on_packet(0, Token::rtp(e1.slot), sa("198.51.100.30:5000"), 100),
            Verdict::Drop(PacketDrop::NoPeer)
        );
        assert_eq!(
            t.on_packet(0, Token::rtp(e1.slot), sa("198.51.100.30:5000"), 0),
            Verdict::Drop(PacketDrop::Empty)
        );
        assert_eq!(
            t.on_packet(0, Token::rtp(SlotId(9)), sa("198.51.100.30:5000"), 10),
            Verdict::Drop(PacketDrop::UnknownToken)
        );
        assert_eq!(
            t.on_packet(0, Token(u32::MAX), sa("198.51.100.30:5000"), 10),
            Verdict::Drop(PacketDrop::UnknownToken)
        );
        let c = t.half(e1.slot).unwrap().counters();
        assert_eq!((c.dropped_no_peer, c.dropped_empty, c.packets), (1, 1, 0));
        assert_eq!(t.stats().unknown_token, 2);
    }

    #[test]
    fn third_party_is_dropped_and_counted_then_relatch_after_silence() {
        let (mut t, mut s) = (table(), FakeSockets::default());
        let (e1, e2) = call(&mut t, &mut s, "c");
        let b = sa("198.51.100.30:5000");
        let evil = sa("192.0.2.66:6666");
        // Before B has sent: an unrelated public host is not B's signalled IP.
        assert_eq!(
            t.on_packet(0, Token::rtp(e1.slot), evil, 50),
            Verdict::Drop(PacketDrop::ForeignSource)
        );
        assert!(matches!(
            t.on_packet(100, Token::rtp(e1.slot), b, 50),
            Verdict::Forward { .. }
        ));
        assert_eq!(t.half(e2.slot).unwrap().latched(Kind::Rtp), Some(b));
        // B from another port is foreign once latched.
        let b2 = sa("198.51.100.30:5010");
        assert_eq!(
            t.on_packet(200, Token::rtp(e1.slot), b2, 50),
            Verdict::Drop(PacketDrop::ForeignSource)
        );
        assert_eq!(
            t.half(e1.slot).unwrap().counters().dropped_foreign_source,
            2
        );
        // Dropped packets do not refresh the stream.
        assert_eq!(t.half(e1.slot).unwrap().last_activity(), 100);
        // 2 s after B's last packet, B's new port takes over; A's media follows it.
        assert!(matches!(
            t.on_packet(2_100, Token::rtp(e1.slot), b2, 50),
            Verdict::Forward { .. }
        ));
        assert_eq!(
            t.on_packet(2_101, Token::rtp(e2.slot), sa("192.168.1.10:4000"), 50),
            Verdict::Forward {
                out: Token::rtp(e1.slot),
                dst: b2
            }
        );
        // The third party still cannot take over: its IP is not B's.
        assert_eq!(
            t.on_packet(9_000, Token::rtp(e1.slot), evil, 50),
            Verdict::Drop(PacketDrop::ForeignSource)
        );
    }

    #[test]
    fn nat_behind_private_sdp_latches_actual_source() {
        let (mut t, mut s) = (table(), FakeSockets::default());
        let e1 = t
            .open(
                0,
                &req("c", StreamDirection::Incoming, O, "192.168.1.10:4000"),
                &mut s,
            )
            .unwrap();
        // B is behind its own NAT and advertised a private address.
        let e2 = t
            .open(
                0,
                &req("c", StreamDirection::Outgoing, I, "10.0.0.7:5000"),
                &mut s,
            )
            .unwrap();
        let nat = sa("198.51.100.77:31000");
        // A speaks first: sent to B's SDP address until B is heard.
        assert_eq!(
            t.on_packet(0, Token::rtp(e2.slot), sa("192.168.1.10:4000"), 20),
            Verdict::Forward {
                out: Token::rtp(e1.slot),
                dst: sa("10.0.0.7:5000")
            }
        );
        assert!(matches!(
            t.on_packet(1, Token::rtp(e1.slot), nat, 20),
            Verdict::Forward { .. }
        ));
        assert_eq!(
            t.on_packet(2, Token::rtp(e2.slot), sa("192.168.1.10:4000"), 20),
            Verdict::Forward {
                out: Token::rtp(e1.slot),
                dst: nat
            }
        );
        // RTCP latches separately.
        assert_eq!(
            t.on_packet(3, Token::rtcp(e2.slot), sa("192.168.1.10:4001"), 20),
            Verdict::Forward {
                out: Token::rtcp(e1.slot),
                dst: sa("10.0.0.7:5001")
            }
        );
    }

    #[test]
    fn hold_and_unhold_keep_the_port_and_follow_the_sdp() {
        let (mut t, mut s) = (table(), FakeSockets::default());
        let (e1, e2) = call(&mut t, &mut s, "c");
        let a = sa("192.168.1.10:4000");
        let b = sa("198.51.100.30:5000");
        assert!(matches!(
            t.on_packet(0, Token::rtp(e1.slot), b, 20),
            Verdict::Forward { .. }
        ));
        assert!(matches!(
            t.on_packet(0, Token::rtp(e2.slot), a, 20),
            Verdict::Forward { .. }
        ));
        // A puts the call on hold: re-INVITE with c=0.0.0.0.
        let mut hold = req("c", StreamDirection::Incoming, O, "0.0.0.0:4000");
        hold.cseq = 2;
        hold.client_id = ClientId::new("alice@example.com", a.ip());
        let o = t.open(1, &hold, &mut s).unwrap();
        assert_eq!((o.local, o.reused), (e1.local, true));
        // A's music on hold still reaches B; a stranger cannot use the hold to reach B.
        assert_eq!(
            t.on_packet(2, Token::rtp(e2.slot), a, 20),
            Verdict::Forward {
                out: Token::rtp(e1.slot),
                dst: b
            }
        );
        assert_eq!(
            t.on_packet(2, Token::rtp(e2.slot), sa("192.168.1.66:4000"), 20),
            Verdict::Drop(PacketDrop::ForeignSource)
        );
        assert_eq!(
            t.on_packet(2, Token::rtp(e1.slot), b, 20),
            Verdict::Drop(PacketDrop::NoDestination)
        );
        assert_eq!(
            t.half(e1.slot).unwrap().counters().dropped_no_destination,
            1
        );
        // Unhold with a new port.
        let mut unhold = req("c", StreamDirection::Incoming, O, "192.168.1.10:4010");
        unhold.cseq = 3;
        let o = t.open(3, &unhold, &mut s).unwrap();
        assert_eq!(o.local, e1.local);
        assert_eq!(
            t.on_packet(4, Token::rtp(e1.slot), b, 20),
            Verdict::Forward {
                out: Token::rtp(e2.slot),
                dst: sa("192.168.1.10:4010")
            }
        );
        assert_eq!(s.binds, 2);
    }

    #[test]
    fn teardown_by_call_id_closes_every_half_of_it() {
        let (mut t, mut s) = (table(), FakeSockets::default());
        call(&mut t, &mut s, "c");
        let (d1, d2) = call(&mut t, &mut s, "d");
        let mut video = req("c", StreamDirection::Incoming, O, "192.168.1.10:4002");
        video.media_index = 1;
        t.open(0, &video, &mut s).unwrap();
        assert_eq!(t.close_call("c", &mut s), 3);
        assert_eq!(t.len(), 2);
        assert_eq!(s.closes.len(), 3);
        assert_eq!(s.bound.len(), 4, "only d's sockets remain");
        assert!(t.halves().all(|(_, h)| h.call_id() == "d"));
        assert_eq!(t.half(d1.slot).unwrap().peer(), Some(d2.slot));
        assert_eq!(t.close_call("c", &mut s), 0);
        assert_eq!(t.close_all(&mut s), 2);
        assert!(t.is_empty());
        assert!(s.bound.is_empty());
        assert_eq!(t.stats().closed, 5);
    }

    #[test]
    fn teardown_by_cseq_spares_later_attempts() {
        let (mut t, mut s) = (table(), FakeSockets::default());
        let e1 = t
            .open(
                0,
                &req("c", StreamDirection::Incoming, O, "192.168.1.10:4000"),
                &mut s,
            )
            .unwrap();
        // 407 to CSeq 1 closes the CSeq-1 half.
        assert_eq!(t.close_call_up_to_cseq("c", 1, &mut s), 1);
        // INVITE re-sent with CSeq 2, answered.
        let mut r = req("c", StreamDirection::Incoming, O, "192.168.1.10:4000");
        r.cseq = 2;
        let e1b = t.open(0, &r, &mut s).unwrap();
        assert_ne!(e1b.local, e1.local, "round robin moved on");
        let mut a = req("c", StreamDirection::Outgoing, I, "198.51.100.30:5000");
        a.cseq = 2;
        t.open(0, &a, &mut s).unwrap();
        // A late second 407 for CSeq 1 touches nothing.
        assert_eq!(t.close_call_up_to_cseq("c", 1, &mut s), 0);
        assert_eq!(t.len(), 2);
        // 486 for CSeq 2 closes both.
        assert_eq!(t.close_call_up_to_cseq("c", 2, &mut s), 2);
        assert!(t.is_empty());
    }

    #[test]
    fn failed_reinvite_spares_the_established_call_and_restores_its_remote() {
        let (mut t, mut s) = (table(), FakeSockets::default());
        let (e1, e2) = call(&mut t, &mut s, "c");
        assert!(!t.half(e1.slot).unwrap().established());
        assert_eq!(t.confirm_call("c", 1), 2);
        assert!(t.half(e1.slot).unwrap().established());
        assert!(t.half(e2.slot).unwrap().established());
        // A's re-INVITE (CSeq 2) moves its media to port 4002; B answers 491.
        let mut re = req("c", StreamDirection::Incoming, O, "192.168.1.10:4002");
        re.cseq = 2;
        assert_eq!(t.open(1, &re, &mut s).unwrap().slot, e1.slot);
        assert_eq!(t.half(e1.slot).unwrap().remote(), sa("192.168.1.10:4002"));
        assert_eq!(t.close_call_up_to_cseq("c", 2, &mut s), 0);
        assert_eq!(t.len(), 2);
        assert_eq!(s.bound.len(), 4, "both port pairs stay bound");
        // The session is as before the re-INVITE: B's media goes to A's old port again.
        let h = t.half(e1.slot).unwrap();
        assert_eq!(
            (h.remote(), h.peer()),
            (sa("192.168.1.10:4000"), Some(e2.slot))
        );
        assert_eq!(
            t.on_packet(2, Token::rtp(e1.slot), sa("198.51.100.30:5000"), 20),
            Verdict::Forward {
                out: Token::rtp(e2.slot),
                dst: sa("192.168.1.10:4000")
            }
        );
        assert_eq!(
            t.on_packet(3, Token::rtp(e2.slot), sa("192.168.1.10:4000"), 20),
            Verdict::Forward {
                out: Token::rtp(e1.slot),
                dst: sa("198.51.100.30:5000")
            }
        );
    }

    #[test]
    fn failed_hold_resumes_the_media() {
        let (mut t, mut s) = (table(), FakeSockets::default());
        let (e1, _) = call(&mut t, &mut s, "c");
        t.confirm_call("c", 1);
        let mut hold = req("c", StreamDirection::Incoming, O, "0.0.0.0:4000");
        hold.cseq = 2;
        t.open(1, &hold, &mut s).unwrap();
        assert_eq!(
            t.on_packet(2, Token::rtp(e1.slot), sa("198.51.100.30:5000"), 20),
            Verdict::Drop(PacketDrop::NoDestination)
        );
        // 488 to the hold: A was never put on hold.
        assert_eq!(t.close_call_up_to_cseq("c", 2, &mut s), 0);
        assert!(matches!(
            t.on_packet(3, Token::rtp(e1.slot), sa("198.51.100.30:5000"), 20),
            Verdict::Forward { .. }
        ));
    }

    #[test]
    fn failed_reinvite_closes_only_the_streams_it_added() {
        let (mut t, mut s) = (table(), FakeSockets::default());
        let (e1, e2) = call(&mut t, &mut s, "c");
        t.confirm_call("c", 1);
        let mut audio = req("c", StreamDirection::Incoming, O, "192.168.1.10:4000");
        audio.cseq = 2;
        t.open(1, &audio, &mut s).unwrap();
        let mut video = audio.clone();
        video.media_index = 1;
        video.remote = sa("192.168.1.10:4010");
        let v = t.open(1, &video, &mut s).unwrap();
        assert!(!v.reused);
        assert_eq!(t.close_call_up_to_cseq("c", 2, &mut s), 1);
        assert!(t.half(v.slot).is_none());
        assert_eq!(s.closes, vec![(v.slot, v.local)]);
        assert_eq!(t.half(e1.slot).unwrap().peer(), Some(e2.slot));
        // BYE still closes the established streams.
        assert_eq!(t.close_call("c", &mut s), 2);
    }

    #[test]
    fn a_confirmed_offer_is_the_new_session() {
        let (mut t, mut s) = (table(), FakeSockets::default());
        let (e1, _) = call(&mut t, &mut s, "c");
        t.confirm_call("c", 1);
        let mut re = req("c", StreamDirection::Incoming, O, "192.168.1.10:4002");
        re.cseq = 2;
        t.open(1, &re, &mut s).unwrap();
        // Confirming CSeq 1 again (a retransmitted 200) does not commit the CSeq-2 offer.
        t.confirm_call("c", 1);
        t.close_call_up_to_cseq("c", 1, &mut s);
        assert_eq!(t.half(e1.slot).unwrap().remote(), sa("192.168.1.10:4002"));
        // Its 200: a later failed offer falls back to 4002, not 4000.
        assert_eq!(t.confirm_call("c", 2), 2);
        let mut re3 = req("c", StreamDirection::Incoming, O, "192.168.1.10:4004");
        re3.cseq = 3;
        t.open(2, &re3, &mut s).unwrap();
        assert_eq!(t.close_call_up_to_cseq("c", 3, &mut s), 0);
        assert_eq!(t.half(e1.slot).unwrap().remote(), sa("192.168.1.10:4002"));
    }

    #[test]
    fn confirm_covers_only_its_cseq_and_call() {
        let (mut t, mut s) = (table(), FakeSockets::default());
        let (c1, _) = call(&mut t, &mut s, "c");
        let (d1, d2) = call(&mut t, &mut s, "d");
        let mut late = req("c", StreamDirection::Outgoing, I, "198.51.100.30:5000");
        late.cseq = 2;
        let c2 = t.open(0, &late, &mut s).unwrap();
        assert_eq!(t.confirm_call("c", 1), 1);
        assert!(t.half(c1.slot).unwrap().established());
        assert!(!t.half(c2.slot).unwrap().established());
        assert!(!t.half(d1.slot).unwrap().established());
        // 486 to d: never answered, so closed as in siproxd.
        assert_eq!(t.close_call_up_to_cseq("d", 1, &mut s), 2);
        assert!(t.half(d2.slot).is_none());
        // Error for CSeq 2 of c: only the unconfirmed CSeq-2 half goes.
        assert_eq!(t.close_call_up_to_cseq("c", 2, &mut s), 1);
        assert!(t.half(c1.slot).is_some());
    }

    #[test]
    fn a_moved_established_stream_stays_established() {
        let (mut t, mut s) = (table(), FakeSockets::default());
        call(&mut t, &mut s, "c");
        t.confirm_call("c", 1);
        let mut re = req(
            "c",
            StreamDirection::Incoming,
            "203.0.113.9",
            "192.168.1.10:4002",
        );
        re.cseq = 2;
        let moved = t.open(5, &re, &mut s).unwrap();
        assert!(!moved.reused);
        assert!(t.half(moved.slot).unwrap().established());
        // The re-INVITE fails: the stream stays (on its new port) with the old remote.
        assert_eq!(t.close_call_up_to_cseq("c", 2, &mut s), 0);
        let h = t.half(moved.slot).unwrap();
        assert_eq!(
            (h.local(), h.remote()),
            (moved.local, sa("192.168.1.10:4000"))
        );
    }

    #[test]
    fn aging_with_virtual_clock() {
        let mut t = Table::new(16, 7070, 7089, 20);
        let mut s = FakeSockets::default();
        assert_eq!(t.next_deadline(), None);
        let (e1, e2) = call(&mut t, &mut s, "c");
        assert_eq!(t.next_deadline(), Some(20_000));
        assert_eq!(t.expire(19_999, &mut s), 0);
        // One-way RTP (B → A only) keeps both halves alive.
        let b = sa("198.51.100.30:5000");
        assert!(matches!(
            t.on_packet(15_000, Token::rtp(e1.slot), b, 20),
            Verdict::Forward { .. }
        ));
        assert_eq!(t.half(e2.slot).unwrap().last_activity(), 15_000);
        assert_eq!(t.next_deadline(), Some(35_000));
        assert_eq!(t.expire(34_999, &mut s), 0);
        // RTCP alone does not refresh.
        assert!(matches!(
            t.on_packet(30_000, Token::rtcp(e1.slot), sa("198.51.100.30:5001"), 20),
            Verdict::Forward { .. }
        ));
        assert_eq!(t.next_deadline(), Some(35_000));
        assert_eq!(t.expire(35_000, &mut s), 2);
        assert!(t.is_empty());
        assert!(s.bound.is_empty());
        assert_eq!(t.stats().expired, 2);
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn halves_expire_individually() {
        let mut t = Table::new(16, 7070, 7089, 20);
        let mut s = FakeSockets::default();
        let e1 = t
            .open(
                0,
                &req("c", StreamDirection::Incoming, O, "192.168.1.10:4000"),
                &mut s,
            )
            .unwrap();
        let e2 = t
            .open(
                5_000,
                &req("c", StreamDirection::Outgoing, I, "198.51.100.30:5000"),
                &mut s,
            )
            .unwrap();
        assert_eq!(t.expire(20_000, &mut s), 1);
        assert!(t.half(e1.slot).is_none());
        assert_eq!(t.half(e2.slot).unwrap().peer(), None);
        assert_eq!(t.next_deadline(), Some(25_000));
    }

    #[test]
    fn zero_timeout_means_the_minimum_not_immediate_death() {
        let mut t = Table::new(16, 7070, 7089, 0);
        let mut s = FakeSockets::default();
        call(&mut t, &mut s, "c");
        assert_eq!(
            t.next_deadline(),
            Some(u64::from(RTP_MIN_TIMEOUT_SECS) * 1000)
        );
        assert_eq!(t.expire(1, &mut s), 0);
    }

    #[test]
    fn reinvite_refreshes_the_deadline() {
        let mut t = Table::new(16, 7070, 7089, 20);
        let mut s = FakeSockets::default();
        let (e1, _) = call(&mut t, &mut s, "c");
        t.open(
            10_000,
            &req("c", StreamDirection::Incoming, O, "192.168.1.10:4000"),
            &mut s,
        )
        .unwrap();
        assert_eq!(t.half(e1.slot).unwrap().last_activity(), 10_000);
    }

    #[test]
    fn capacity_is_capped_and_from_config_uses_directives() {
        let c = Config {
            max_rtp_streams: 4,
            rtp_port_low: 8000,
            rtp_port_high: 8003,
            ..Config::default()
        };
        let mut t = Table::from_config(&c);
        assert_eq!(t.capacity(), 4);
        let mut s = FakeSockets::default();
        let o = t
            .open(
                0,
                &req("c", StreamDirection::Incoming, O, "192.168.1.10:4000"),
                &mut s,
            )
            .unwrap();
        assert_eq!(o.local.port(), 8000);
        assert_eq!(t.next_deadline(), Some(300_000));
    }
}
