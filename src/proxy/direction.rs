//! Direction determination (behaviour §4.5): is a message going from the LAN to the Internet
//! (outgoing) or the other way (incoming), and which registration it concerns.

use std::net::{IpAddr, Ipv4Addr};

use super::{Origin, Proxy};
use crate::registry::{self, BindingState, UrlField, Want};
use crate::sip::{Message, Uri};

/// Which way a message crosses the router: `Incoming` = Internet → LAN, `Outgoing` = LAN →
/// Internet. The same concept as a media stream's direction, so the same type.
pub use crate::rtp::StreamDirection as Direction;

/// A message's direction and the registration it concerns (incoming messages, when known).
/// A message whose direction cannot be told has none (`Option<Heading>::None`): neither side
/// is registered, so it is answered 408 or dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heading {
    pub direction: Direction,
    pub slot: Option<usize>,
}

/// `outgoing`, `incoming to slot 3`, or `no direction` (see [`Heading::show`]).
pub struct ShowHeading(Option<Heading>);

impl std::fmt::Display for ShowHeading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            None => f.write_str("no direction"),
            Some(Heading {
                direction,
                slot: None,
            }) => write!(f, "{direction}"),
            Some(Heading {
                direction,
                slot: Some(s),
            }) => write!(f, "{direction} to slot {s}"),
        }
    }
}

impl Heading {
    /// A message's direction for the logs.
    pub fn show(heading: Option<Heading>) -> ShowHeading {
        ShowHeading(heading)
    }

    const OUTGOING: Heading = Heading {
        direction: Direction::Outgoing,
        slot: None,
    };

    fn incoming(slot: usize) -> Heading {
        Heading {
            direction: Direction::Incoming,
            slot: Some(slot),
        }
    }
}

/// A parsed URI as the registry compares it; `None` when it cannot be stored there.
pub fn reg_uri(uri: &Uri<'_>) -> Option<registry::Uri> {
    let s = std::str::from_utf8(uri.raw).ok()?;
    registry::Uri::parse(s).ok()
}

impl Proxy {
    fn is_local_source(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip == IpAddr::V4(Ipv4Addr::LOCALHOST)
            || ip == IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
            || self.addrs.is_own(ip)
    }

    /// §4.5 rule 1 for a request: its source is a phone with a binding the registrar
    /// confirmed (expired ones in their grace period included, as in siproxd). A provisional
    /// binding counts only for the REGISTER that created it (decisions §4): otherwise any
    /// host could get its requests relayed by sending a REGISTER first.
    fn is_registered_source(&self, ip: IpAddr, register: bool) -> bool {
        if register {
            return self.registry.find_by_source_ip(ip).is_some();
        }
        let ip = ip.to_canonical();
        self.registry.iter().any(|(_, e)| {
            e.bindings().iter().any(|b| {
                b.state == BindingState::Live
                    && (b.source.ip().to_canonical() == ip || b.true_url.host_ip() == Some(ip))
            })
        })
    }

    /// Slot of a registration that `uri` names: masq_url, or reg_url unless `masq_only`.
    fn slot_for(&self, now_s: u64, uri: &Uri<'_>, masq_only: bool, want: Want) -> Option<usize> {
        let u = reg_uri(uri)?;
        let field = if masq_only {
            UrlField::Masq
        } else {
            UrlField::Either
        };
        self.registry.find_by_url(now_s, &u, field, want)
    }

    fn slot_for_user(
        &self,
        now_s: u64,
        uri: &Uri<'_>,
        masq_only: bool,
        want: Want,
    ) -> Option<usize> {
        let u = reg_uri(uri)?;
        u.user()?;
        let field = if masq_only {
            UrlField::Masq
        } else {
            UrlField::Either
        };
        self.registry.find_by_user(now_s, &u, field, want)
    }

    /// Direction of a request (rules 1–4 and 6 of §4.5, rules 1 and 4 only with confirmed
    /// bindings).
    pub(super) fn request_direction(
        &self,
        now: u64,
        origin: &Origin,
        msg: &Message<'_>,
    ) -> Option<Heading> {
        let src = origin.src;
        let now_s = now / 1000;
        let register = msg.method() == Some(b"REGISTER");
        // Rule 1 only for what arrived on the LAN side: a host on the Internet with a
        // binding (or a contact naming it) must not have its requests relayed outward.
        if self.arrived_on_lan(origin) && self.is_registered_source(src.ip(), register) {
            return Some(Heading::OUTGOING);
        }
        let to = msg.to().ok();
        if let Some(slot) = to
            .as_ref()
            .and_then(|t| self.slot_for(now_s, &t.uri, register, Want::Live))
        {
            return Some(Heading::incoming(slot));
        }
        let ruri = msg.request_uri_raw().and_then(|r| Uri::parse(r).ok());
        if let Some(slot) = ruri
            .as_ref()
            .and_then(|u| self.slot_for(now_s, u, register, Want::Live))
        {
            return Some(Heading::incoming(slot));
        }
        // Unlike siproxd's rule 4 (no expiry check), a request needs a live binding: a
        // provisional or lapsed one has no contact to route to (decisions §4), and the
        // Request-URI left unchanged would send the request back to ourselves.
        if let Some(slot) = to
            .as_ref()
            .and_then(|t| self.slot_for_user(now_s, &t.uri, register, Want::Live))
        {
            return Some(Heading::incoming(slot));
        }
        if self.is_local_source(src.ip()) {
            return Some(Heading::OUTGOING);
        }
        None
    }

    /// Direction of a response (rules 1, 2, 4, 5 and 6 of §4.5). `next_via` is the Via below
    /// ours (ours has been checked by the caller).
    pub(super) fn response_direction(
        &self,
        now: u64,
        origin: &Origin,
        msg: &Message<'_>,
        next_via: Option<(&[u8], Option<u16>)>,
    ) -> Option<Heading> {
        let src = origin.src;
        let now_s = now / 1000;
        if self.arrived_on_lan(origin) && self.registry.find_by_source_ip(src.ip()).is_some() {
            return Some(Heading::OUTGOING);
        }
        let register = msg.cseq().is_ok_and(|c| c.method == b"REGISTER");
        let want = if register { Want::Any } else { Want::Live };
        let from = msg.from().ok();
        if let Some(slot) = from
            .as_ref()
            .and_then(|f| self.slot_for(now_s, &f.uri, false, want))
        {
            return Some(Heading::incoming(slot));
        }
        if let Some(slot) = from
            .as_ref()
            .and_then(|f| self.slot_for_user(now_s, &f.uri, false, Want::Any))
        {
            return Some(Heading::incoming(slot));
        }
        if let Some((host, port)) = next_via {
            let host = String::from_utf8_lossy(host);
            let host = crate::sip::unbracket(&host);
            if let Some(hit) =
                self.registry
                    .find_by_true_hostport(now_s, host, port.unwrap_or(5060), want)
            {
                return Some(Heading::incoming(hit.slot));
            }
        }
        if self.is_local_source(src.ip()) {
            return Some(Heading::OUTGOING);
        }
        None
    }
}
