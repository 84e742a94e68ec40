//! What the proxy asks of the RTP relay (behaviour §5, decisions §6). The event loop's relay
//! implements [`Media`] with real sockets; tests use [`TableMedia`] (a real `rtp::Table` whose
//! port pairs always bind).
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::IpAddr;

use crate::rtp::{OpenError, Opened, RelaySockets, SlotId, StreamRequest, Table};

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
}

/// `o=` and every specified `c=` of an SDP body set to `public`, ports untouched.
fn masquerade_addresses(body: &[u8], public: IpAddr) -> Body {
    use crate::sdp::{Rewriter, Sdp, Section};
    let Ok(sdp) = Sdp::parse(body) else {
        return Body::Reject(488, "Not Acceptable Here");
    };
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
        }
        Ok(())
    };
    if edit().is_err() {
        return Body::Reject(488, "Not Acceptable Here");
    }
    let mut out = vec![0u8; body.len().saturating_add(256)];
    match rw.emit(&mut out) {
        Ok(n) => {
            out.truncate(n);
            Body::Rewritten(out)
        }
        Err(_) => Body::Reject(488, "Not Acceptable Here"),
    }
}

/// What SDP rewriting decided for a message body.
#[derive(Debug)]
pub(super) enum Body {
    /// Forward the body as it is (no SDP, or the relay is off).
    Unchanged,
    /// Forward this body instead.
    Rewritten(Vec<u8>),
    /// Do not forward: answer a request with this status (a response is dropped).
    Reject(u16, &'static str),
}

impl super::Proxy {
    /// SDP rewriting and relay set-up for one message (behaviour §5.1–§5.3, decisions §6):
    /// every relayed stream gets its relay port, or nothing is rewritten and the message is
    /// refused — never a half-rewritten body.
    pub(super) fn relay_media(
        &mut self,
        now: u64,
        origin: &super::Origin,
        msg: &crate::sip::Message<'_>,
        incoming: bool,
        media: &mut dyn Media,
    ) -> Body {
        use crate::rtp::{ClientId, Direction as D};
        use crate::sdp::{rewrite_for_relay, Sdp, StreamRewrite};
        use std::net::SocketAddr;

        if self.cfg.rtp_proxy_enable != 1 {
            return Body::Unchanged;
        }
        let Ok(cseq) = msg.cseq() else {
            return Body::Unchanged;
        };
        let request = msg.is_request();
        let wanted = if request {
            matches!(
                msg.method(),
                Some(b"INVITE" | b"ACK" | b"PRACK" | b"UPDATE")
            )
        } else {
            let code = msg.status_code().unwrap_or(0);
            (100..300).contains(&code) && matches!(cseq.method, b"INVITE" | b"UPDATE")
        };
        let body = msg.body();
        if body.is_empty() {
            return Body::Unchanged;
        }
        let content_type = msg.content_type().ok().flatten();
        if let Some(ct) = content_type {
            if !ct.is("application", "sdp") {
                // A multipart body may carry SDP this proxy does not rewrite: towards the
                // Internet it would carry private addresses (and no relay), so it is refused.
                let sdp_inside = ct.media_type.eq_ignore_ascii_case(b"multipart")
                    && body
                        .windows(15)
                        .any(|w| w.eq_ignore_ascii_case(b"application/sdp"));
                if sdp_inside && !incoming {
                    log::warn!("multipart SDP from {} cannot be relayed", origin.src);
                    return Body::Reject(488, "Not Acceptable Here");
                }
                return Body::Unchanged;
            }
        }
        if !wanted {
            // SDP outside an offer/answer (e.g. a 200 to OPTIONS listing capabilities): no
            // media to relay, but its addresses must not leave the LAN either.
            return match (incoming, self.public_ip()) {
                (false, Some(public)) => masquerade_addresses(body, public),
                _ => Body::Unchanged,
            };
        }
        let sdp = match Sdp::parse(body) {
            Ok(s) => s,
            Err(e) => {
                log::warn!("SDP from {} cannot be relayed: {e}", origin.src);
                return Body::Reject(488, "Not Acceptable Here");
            }
        };
        // §5.2: which address the SDP advertises and where media on the new port goes.
        let public = self.public_ip();
        let (advertised, bind, stream_dir, call_dir) = match (request, incoming) {
            (true, true) => (
                Some(self.addrs.inbound),
                Some(self.addrs.inbound),
                D::Outgoing,
                D::Incoming,
            ),
            (true, false) => (public, self.addrs.outbound, D::Incoming, D::Outgoing),
            (false, true) => (
                Some(self.addrs.inbound),
                Some(self.addrs.inbound),
                D::Outgoing,
                D::Outgoing,
            ),
            (false, false) => (public, self.addrs.outbound, D::Incoming, D::Incoming),
        };
        let (Some(advertised), Some(bind)) = (advertised, bind) else {
            return Body::Reject(503, "Service Unavailable");
        };
        let call_id_raw = String::from_utf8_lossy(msg.call_id().unwrap_or(b"")).into_owned();
        let call_id = super::rewrite::restore_call_id(&call_id_raw, None).unwrap_or(call_id_raw);
        let party = if request != incoming {
            msg.from()
        } else {
            msg.to()
        };
        let client = match party {
            Ok(na) => ClientId::from_user_host(
                &String::from_utf8_lossy(na.uri.user.unwrap_or(b"")),
                &String::from_utf8_lossy(na.uri.host_raw),
                origin.src.ip(),
            ),
            Err(_) => ClientId::new("", origin.src.ip()),
        };

        let mut opened: Vec<crate::rtp::SlotId> = Vec::new();
        let mut rewrites: Vec<StreamRewrite> = Vec::new();
        let mut failure: Option<(u16, &'static str)> = None;
        for i in 0..sdp.media_count() {
            let Some(st) = sdp.stream(i) else {
                failure = Some((488, "Not Acceptable Here"));
                break;
            };
            if st.disabled {
                rewrites.push(StreamRewrite {
                    address: advertised,
                    rtp_port: 0,
                    rtcp_port: None,
                });
                continue;
            }
            let Some(remote_ip) = st.address.and_then(|a| a.ip) else {
                log::warn!("SDP from {}: media {i} has no usable address", origin.src);
                failure = Some((488, "Not Acceptable Here"));
                break;
            };
            if remote_ip.is_ipv6() != bind.is_ipv6() && !remote_ip.is_unspecified() {
                log::warn!(
                    "SDP from {}: media {i} is {remote_ip}, the relay address is {bind}",
                    origin.src
                );
                failure = Some((488, "Not Acceptable Here"));
                break;
            }
            let req = crate::rtp::StreamRequest {
                call_id: &call_id,
                client_id: client.clone(),
                cseq: cseq.number,
                stream_dir,
                call_dir,
                media_index: u16::try_from(i).unwrap_or(u16::MAX),
                local_ip: bind,
                remote: SocketAddr::new(remote_ip, st.port),
                remote_rtcp_port: if st.rtcp_mux {
                    Some(st.port)
                } else {
                    st.rtcp_port
                },
                media_info: crate::rtp::MediaInfo::from_sdp(&sdp, i),
            };
            match media.open(now, &req) {
                Ok(o) => {
                    if !o.reused {
                        opened.push(o.slot);
                    }
                    let rtcp = st.rtcp_mux.then_some(o.local.port());
                    rewrites.push(StreamRewrite {
                        address: advertised,
                        rtp_port: o.local.port(),
                        rtcp_port: rtcp,
                    });
                }
                Err(e) => {
                    log::warn!("call {call_id}: cannot relay media {i}: {e}; answering 503");
                    failure = Some((503, "Service Unavailable"));
                    break;
                }
            }
        }
        let mut out = vec![0u8; body.len().saturating_add(1024)];
        if failure.is_none() {
            match rewrite_for_relay(&sdp, advertised, &rewrites, true, &mut out) {
                Ok(n) => {
                    out.truncate(n);
                    return Body::Rewritten(out);
                }
                Err(e) => {
                    log::warn!("SDP from {} cannot be rewritten: {e}", origin.src);
                    failure = Some((488, "Not Acceptable Here"));
                }
            }
        }
        for slot in opened {
            media.close(slot);
        }
        let (code, reason) = failure.unwrap_or((500, "Server Internal Error"));
        Body::Reject(code, reason)
    }
}
