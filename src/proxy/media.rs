//! What the proxy asks of the RTP relay (behaviour §5, decisions §6). The event loop's relay
//! implements [`Media`] with real sockets; tests use [`TableMedia`] (a real `rtp::Table` whose
//! port pairs always bind).

use std::net::{IpAddr, SocketAddr};

use super::direction::Direction;
use crate::rtp::{ClientId, OpenError, Opened, RelaySockets, SlotId, StreamRequest, Table};
use crate::sdp::{rewrite_for_relay, Sdp, StreamRewrite};
use crate::sip::{Message, Status};

/// The relay as the proxy core sees it.
pub trait Media {
    /// Opens (or finds again, for a retransmission or re-INVITE) one half-stream.
    fn open(&mut self, now: u64, req: &StreamRequest<'_>) -> Result<Opened, OpenError>;
    /// Closes one half (undoing a partly successful SDP rewrite).
    fn close(&mut self, slot: SlotId);
    /// BYE / CANCEL: every half of the call.
    fn close_call(&mut self, call_id: &str) -> usize;
    /// 4xx–6xx to INVITE/UPDATE: undoes the failed offer on the halves of the call with a
    /// CSeq ≤ `cseq` (§5.6): closes those not established, restores the remote of the others
    /// (`Table::close_call_up_to_cseq`). Returns the number closed.
    fn close_call_up_to_cseq(&mut self, call_id: &str, cseq: u32) -> usize;
    /// 2xx to INVITE/UPDATE, or an ACK with SDP: the halves of the call with a CSeq ≤ `cseq`
    /// are established and survive a later failed re-INVITE (`Table::confirm_call`).
    fn confirm_call(&mut self, call_id: &str, cseq: u32) -> usize;
    /// The (local, remote) addresses of the call's half for `media_index` whose media
    /// travels `dir`, if it is open: its far end's family decides the family of the half
    /// that pairs with it.
    fn partner(
        &self,
        _call_id: &str,
        _media_index: u16,
        _dir: Direction,
    ) -> Option<(SocketAddr, SocketAddr)> {
        None
    }
}

/// No relay (`rtp_proxy_enable = 0`): nothing is ever opened.
#[derive(Debug, Default)]
pub struct NoMedia;

impl Media for NoMedia {
    fn open(&mut self, _now: u64, _req: &StreamRequest<'_>) -> Result<Opened, OpenError> {
        Err(OpenError::TableFull { capacity: 0 })
    }
    fn close(&mut self, _slot: SlotId) {}
    fn close_call(&mut self, _call_id: &str) -> usize {
        0
    }
    fn close_call_up_to_cseq(&mut self, _call_id: &str, _cseq: u32) -> usize {
        0
    }
    fn confirm_call(&mut self, _call_id: &str, _cseq: u32) -> usize {
        0
    }
}

/// Binds nothing: every proposed port pair is accepted. For core tests and benchmarks.
#[derive(Debug, Default)]
pub struct NullSockets {
    pub open_pairs: usize,
}

impl RelaySockets for NullSockets {
    fn open_pair(&mut self, _slot: SlotId, _addr: std::net::SocketAddr) -> bool {
        self.open_pairs = self.open_pairs.saturating_add(1);
        true
    }
    fn close_pair(&mut self, _slot: SlotId, _addr: std::net::SocketAddr) {
        self.open_pairs = self.open_pairs.saturating_sub(1);
    }
}

/// A real relay table without sockets.
pub struct TableMedia {
    pub table: Table,
    pub sockets: NullSockets,
}

impl TableMedia {
    pub fn new(table: Table) -> TableMedia {
        TableMedia {
            table,
            sockets: NullSockets::default(),
        }
    }
}

impl Media for TableMedia {
    fn open(&mut self, now: u64, req: &StreamRequest<'_>) -> Result<Opened, OpenError> {
        self.table.open(now, req, &mut self.sockets)
    }
    fn close(&mut self, slot: SlotId) {
        self.table.close(slot, &mut self.sockets);
    }
    fn close_call(&mut self, call_id: &str) -> usize {
        self.table.close_call(call_id, &mut self.sockets)
    }
    fn close_call_up_to_cseq(&mut self, call_id: &str, cseq: u32) -> usize {
        self.table
            .close_call_up_to_cseq(call_id, cseq, &mut self.sockets)
    }
    fn confirm_call(&mut self, call_id: &str, cseq: u32) -> usize {
        self.table.confirm_call(call_id, cseq)
    }
    fn partner(
        &self,
        call_id: &str,
        index: u16,
        dir: Direction,
    ) -> Option<(SocketAddr, SocketAddr)> {
        self.table.partner(call_id, index, dir)
    }
}

/// `o=`, every specified `c=` and `a=rtcp` address of an SDP body set to `public`, ports
/// untouched, ICE lines removed: nothing names the LAN.
fn masquerade_addresses(body: &[u8], public: IpAddr) -> Result<Vec<u8>, Status> {
    use crate::sdp::{Rewriter, Sdp, Section};
    let sdp = Sdp::parse(body).map_err(|_| Status::NOT_ACCEPTABLE_HERE)?;
    let mut rw = Rewriter::new(&sdp);
    let mut edit = || -> Result<(), crate::sdp::SdpError> {
        if sdp.origin().is_some() {
            rw.set_origin_address(public)?;
        }
        let sections =
            std::iter::once(Section::Session).chain((0..sdp.media_count()).map(Section::Media));
        for section in sections {
            for c in sdp.connections(section) {
                if !c.is_unspecified() {
                    rw.set_address(&c, public)?;
                }
            }
            // No media is relayed here, so the phone's own candidates mean nothing outside.
            rw.remove_ice(section)?;
        }
        for i in 0..sdp.media_count() {
            let rtcp = sdp.media(i).and_then(|m| m.rtcp);
            if let Some(r) = rtcp.filter(|r| r.address.is_some()) {
                rw.set_rtcp(i, r.port, Some(public))?;
            }
        }
        Ok(())
    };
    edit().map_err(|_| Status::NOT_ACCEPTABLE_HERE)?;
    let mut out = vec![0u8; body.len().saturating_add(256)];
    let n = rw.emit(&mut out).map_err(|_| Status::NOT_ACCEPTABLE_HERE)?;
    out.truncate(n);
    Ok(out)
}

/// What a message's body needs.
enum BodyPlan {
    /// Forward it as it is (no SDP, relay off, or towards the LAN).
    Keep,
    /// SDP outside an offer/answer: only its addresses are made public.
    Masquerade(IpAddr),
    /// An offer or answer: its streams go through the relay.
    Relay,
}

/// Where the relay halves of one SDP bind and what they say (behaviour §5.2).
struct RelayPlan {
    /// The address written into the SDP.
    advertised: IpAddr,
    /// The address the relay port binds on (the interface's, also when `host_outbound` is
    /// advertised).
    bind: IpAddr,
    /// (bind, advertised) on the SDP's destination side per family (IPv4, IPv6), where the
    /// side has an address of it: a stream pairing with a half whose far end is of the
    /// other family binds there.
    families: [Option<(IpAddr, IpAddr)>; 2],
    /// Whether the SDP's sender's side has an address of each family (to reach its media).
    sender_side: [bool; 2],
    /// Where media arriving on the new port travels.
    stream_dir: Direction,
    /// The call's direction (who called whom).
    call_dir: Direction,
}

/// The halves one SDP opened, and their rewrites; closed again when the SDP is refused.
struct Opening {
    opened: Vec<SlotId>,
    rewrites: Vec<StreamRewrite>,
}

impl super::Proxy {
    /// SDP rewriting and relay set-up for one message (behaviour §5.1–§5.3, decisions §6):
    /// the new body (`None`: unchanged), or the status that refuses it. Every relayed stream
    /// gets its relay port, or nothing is rewritten — never a half-rewritten body.
    pub(super) fn relay_media(
        &mut self,
        now: u64,
        origin: &super::Origin,
        msg: &Message<'_>,
        direction: Direction,
        egress: IpAddr,
        media: &mut dyn Media,
    ) -> Result<Option<Vec<u8>>, Status> {
        match self.body_plan(origin, msg, direction, egress)? {
            BodyPlan::Keep => Ok(None),
            BodyPlan::Masquerade(public) => masquerade_addresses(msg.body(), public).map(Some),
            BodyPlan::Relay => self
                .relay_streams(now, origin, msg, direction, egress, media)
                .map(Some),
        }
    }

    fn body_plan(
        &self,
        origin: &super::Origin,
        msg: &Message<'_>,
        direction: Direction,
        egress: IpAddr,
    ) -> Result<BodyPlan, Status> {
        if !self.settings.relay {
            return Ok(BodyPlan::Keep);
        }
        let Ok(cseq) = msg.cseq() else {
            return Ok(BodyPlan::Keep);
        };
        let body = msg.body();
        if body.is_empty() {
            return Ok(BodyPlan::Keep);
        }
        let towards_wan = direction == Direction::Outgoing;
        if let Some(ct) = msg.content_type().ok().flatten() {
            if !ct.is("application", "sdp") {
                // A multipart body may carry SDP this proxy does not rewrite: towards the
                // Internet it would carry private addresses (and no relay), so it is refused.
                let sdp_inside = ct.media_type.eq_ignore_ascii_case(b"multipart")
                    && body
                        .windows(15)
                        .any(|w| w.eq_ignore_ascii_case(b"application/sdp"));
                if sdp_inside && towards_wan {
                    log::warn!("multipart SDP from {} cannot be relayed", origin.src);
                    return Err(Status::NOT_ACCEPTABLE_HERE);
                }
                return Ok(BodyPlan::Keep);
            }
        }
        let offer_answer = match msg.status_code() {
            None => matches!(
                msg.method(),
                Some(b"INVITE" | b"ACK" | b"PRACK" | b"UPDATE")
            ),
            Some(code) => {
                (100..300).contains(&code) && matches!(cseq.method, b"INVITE" | b"UPDATE")
            }
        };
        if offer_answer {
            return Ok(BodyPlan::Relay);
        }
        // SDP outside an offer/answer (e.g. a 200 to OPTIONS listing capabilities): no media
        // to relay, but its addresses must not leave the LAN either.
        Ok(match (towards_wan, self.public_ip_for(egress)) {
            (true, Some(public)) => BodyPlan::Masquerade(public),
            _ => BodyPlan::Keep,
        })
    }

    /// §5.2: which address the SDP advertises and where media on the new port goes: the
    /// egress side's address of the message's family (`egress`), so each side's SDP is in
    /// that side's family.
    fn relay_plan(&self, request: bool, direction: Direction, egress: IpAddr) -> Option<RelayPlan> {
        let (advertised, bind) = match direction {
            Direction::Incoming => (Some(egress), Some(egress)),
            Direction::Outgoing => (self.public_ip_for(egress), Some(egress)),
        };
        // The stream carries media towards the side the SDP came from: the opposite way.
        let stream_dir = direction.opposite();
        // A request travels the way the call goes; a response the other way.
        let call_dir = if request {
            direction
        } else {
            direction.opposite()
        };
        let (v4, v6) = (
            IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        );
        let a = self.addrs;
        let dest = |peer: IpAddr| {
            let b = match direction {
                Direction::Incoming => Some(a.inbound_for(peer)),
                Direction::Outgoing => a.outbound_for(peer),
            }
            .filter(|b| b.is_ipv6() == peer.is_ipv6())?;
            let adv = match direction {
                Direction::Incoming => b,
                Direction::Outgoing => self.public_ip_for(b)?,
            };
            Some((b, adv))
        };
        let sender = |peer: IpAddr| {
            match direction {
                Direction::Incoming => a.outbound_for(peer),
                Direction::Outgoing => Some(a.inbound_for(peer)),
            }
            .is_some_and(|b| b.is_ipv6() == peer.is_ipv6())
        };
        Some(RelayPlan {
            advertised: advertised?,
            bind: bind?,
            families: [dest(v4), dest(v6)],
            sender_side: [sender(v4), sender(v6)],
            stream_dir,
            call_dir,
        })
    }

    fn relay_streams(
        &mut self,
        now: u64,
        origin: &super::Origin,
        msg: &Message<'_>,
        direction: Direction,
        egress: IpAddr,
        media: &mut dyn Media,
    ) -> Result<Vec<u8>, Status> {
        let sdp = Sdp::parse(msg.body()).map_err(|e| {
            log::warn!("SDP from {} cannot be relayed: {e}", origin.src);
            Status::NOT_ACCEPTABLE_HERE
        })?;
        let plan = self
            .relay_plan(msg.is_request(), direction, egress)
            .ok_or(Status::SERVICE_UNAVAILABLE)?;
        let call_id = media_call_id(msg);
        let mut opening = Opening {
            opened: Vec::new(),
            rewrites: Vec::new(),
        };
        let result = open_streams(now, origin, msg, &sdp, &plan, &call_id, media, &mut opening)
            .and_then(|()| {
                let mut out = vec![0u8; msg.body().len().saturating_add(1024)];
                match rewrite_for_relay(&sdp, plan.advertised, &opening.rewrites, true, &mut out) {
                    Ok(n) => {
                        out.truncate(n);
                        Ok(out)
                    }
                    Err(e) => {
                        log::warn!("SDP from {} cannot be rewritten: {e}", origin.src);
                        Err(Status::NOT_ACCEPTABLE_HERE)
                    }
                }
            });
        if result.is_err() {
            for slot in opening.opened {
                media.close(slot);
            }
        }
        result
    }
}

/// The relay files a call's streams under its party on the LAN: the From of requests going
/// out and of responses coming in, the To otherwise.
fn stream_owner(msg: &Message<'_>, origin: &super::Origin, plan: &RelayPlan) -> ClientId {
    // The new port is on the side the SDP goes to, and media arriving there travels towards
    // the SDP's sender: LAN → Internet exactly when the SDP came from the Internet.
    let sdp_from_wan = plan.stream_dir == Direction::Outgoing;
    let party = if msg.is_request() != sdp_from_wan {
        msg.from()
    } else {
        msg.to()
    };
    match party {
        Ok(na) => ClientId::from_user_host(
            &String::from_utf8_lossy(na.uri.user.unwrap_or(b"")),
            &String::from_utf8_lossy(na.uri.host_raw),
            origin.src.ip(),
        ),
        Err(_) => ClientId::new("", origin.src.ip()),
    }
}

/// Opens (or finds again) a relay half for every stream of `sdp`, noting each rewrite.
#[allow(clippy::too_many_arguments)]
fn open_streams(
    now: u64,
    origin: &super::Origin,
    msg: &Message<'_>,
    sdp: &Sdp<'_>,
    plan: &RelayPlan,
    call_id: &str,
    media: &mut dyn Media,
    opening: &mut Opening,
) -> Result<(), Status> {
    let Ok(cseq) = msg.cseq() else {
        return Err(Status::NOT_ACCEPTABLE_HERE);
    };
    let client = stream_owner(msg, origin, plan);
    for i in 0..sdp.media_count() {
        let st = sdp.stream(i).ok_or(Status::NOT_ACCEPTABLE_HERE)?;
        if st.disabled {
            opening.rewrites.push(StreamRewrite {
                address: plan.advertised,
                rtp_port: 0,
                rtcp_port: None,
            });
            continue;
        }
        let Some(remote_ip) = st.address.and_then(|a| a.ip) else {
            log::warn!("SDP from {}: media {i} has no usable address", origin.src);
            return Err(Status::NOT_ACCEPTABLE_HERE);
        };
        // Media to the sender leaves from the relay's socket on the sender's side, so that
        // side needs an address of the family the SDP names (a stream may cross families
        // between the sides). A half pairing with an open one binds in the family of that
        // one's far end, and its own far end must be of the family that one is bound in.
        let remote_ip = remote_ip.to_canonical();
        let fam = |ip: IpAddr| usize::from(ip.is_ipv6());
        let Ok(media_index) = u16::try_from(i) else {
            return Err(Status::NOT_ACCEPTABLE_HERE);
        };
        let partner = media.partner(call_id, media_index, plan.stream_dir.opposite());
        let reachable = remote_ip.is_unspecified()
            || match partner {
                Some((local, _)) => local.is_ipv6() == remote_ip.is_ipv6(),
                None => plan.sender_side.get(fam(remote_ip)) == Some(&true),
            };
        if !reachable {
            log::warn!(
                "SDP from {}: media {i} is {remote_ip}, a family the relay cannot reach it in",
                origin.src,
            );
            return Err(Status::NOT_ACCEPTABLE_HERE);
        }
        let (bind, advertised) = partner
            .and_then(|(_, far)| plan.families.get(fam(far.ip())).copied().flatten())
            .unwrap_or((plan.bind, plan.advertised));
        let req = StreamRequest {
            call_id,
            client_id: client.clone(),
            cseq: cseq.number,
            stream_dir: plan.stream_dir,
            call_dir: plan.call_dir,
            media_index,
            local_ip: bind,
            remote: SocketAddr::new(remote_ip, st.port),
            remote_rtcp_port: if st.rtcp_mux {
                Some(st.port)
            } else {
                st.rtcp_port
            },
            media_info: crate::rtp::MediaInfo::from_sdp(sdp, i),
        };
        match media.open(now, &req) {
            Ok(o) => {
                if !o.reused {
                    opening.opened.push(o.slot);
                }
                opening.rewrites.push(StreamRewrite {
                    address: advertised,
                    rtp_port: o.local.port(),
                    rtcp_port: st.rtcp_mux.then_some(o.local.port()),
                });
            }
            Err(e) => {
                log::warn!("call {call_id}: cannot relay media {i}: {e}; answering 503");
                return Err(Status::SERVICE_UNAVAILABLE);
            }
        }
    }
    Ok(())
}

/// The Call-ID the relay table files a call under: the original one of an obscured call
/// (behaviour §4.10.7), so both legs find the same halves.
pub(super) fn media_call_id<'m>(msg: &Message<'m>) -> std::borrow::Cow<'m, str> {
    let cid = String::from_utf8_lossy(msg.call_id().unwrap_or(b""));
    match super::rewrite::restore_call_id(&cid, None) {
        Some(restored) => std::borrow::Cow::Owned(restored),
        None => cid,
    }
}
