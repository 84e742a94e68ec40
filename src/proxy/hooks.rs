//! Where the enabled plugins are called (behaviour §8.1): raw bytes, "determine target",
//! "unknown direction", "pre-proxy" edits, the body, the timer; and the redirect cache that
//! swallows the ACK of a request a plugin answered with 302.

use super::direction::Direction;
use super::edit::Edits;
use super::settings::Hop;
use super::{DropReason, Origin, Proxy};
use crate::plugins::{BodyAction, Ctx, Decision, PluginEdits};
use crate::sip::{Message, Status};

/// How long the Call-ID of a redirected request is remembered (siproxd: 20 s).
const REDIRECT_CACHE_MS: u64 = 20_000;
/// Call-IDs remembered at most (the oldest goes first).
const REDIRECT_CACHE_SIZE: usize = 64;

/// 302 with the Contact a plugin chose.
const MOVED_TEMPORARILY: Status = Status::new(302, "Moved Temporarily");

/// What the "determine target" and "unknown direction" stages concluded.
pub(super) enum Outcome {
    /// Go on as without plugins.
    Continue,
    /// The message was answered or dropped: nothing more to do.
    Done,
    /// A plugin chose the route (`Decision::Forward`): `forward_request` carries it out.
    Forward(Forced),
}

/// A route a plugin forced (siptrunk: towards the LAN, to a registration's contact).
#[derive(Debug)]
pub(super) struct Forced {
    /// The new Request-URI; `None` keeps it (with `hop` given) or takes the slot's contact.
    pub request_uri: Option<String>,
    /// The next hop; `None`: the slot's contact, or the Request-URI's host.
    pub hop: Option<Hop>,
    /// The registration concerned: the request goes towards the LAN (incoming).
    pub lan_slot: Option<usize>,
}

impl Proxy {
    /// `false`: a plugin discarded the datagram.
    pub(super) fn plugins_raw(&mut self, now: u64, origin: &Origin, bytes: &[u8]) -> bool {
        if self.plugins.is_empty() {
            return true;
        }
        let keep = self
            .plugins
            .iter_mut()
            .all(|p| p.raw(now, origin.src, bytes));
        if !keep {
            self.drop_msg(DropReason::Plugin, origin, "discarded by a plugin");
        }
        keep
    }

    /// "Fix": plugins that repair a parsed message before the proxy's checks, in load order;
    /// the repaired message (each plugin sees its predecessor's result), if any was.
    pub(super) fn plugins_fix(
        &mut self,
        now: u64,
        origin: &Origin,
        msg: &Message<'_>,
    ) -> Option<Vec<u8>> {
        if !self.plugins.iter().any(|p| p.fixes()) {
            return None;
        }
        let mut plugins = std::mem::take(&mut self.plugins);
        let mut fixed: Option<Vec<u8>> = None;
        for p in plugins.iter_mut().filter(|p| p.fixes()) {
            let reparsed;
            let current = match &fixed {
                None => msg,
                Some(buf) => match Message::parse(buf, origin.transport.framing()) {
                    Ok(m) => {
                        reparsed = m;
                        &reparsed
                    }
                    Err(_) => break,
                },
            };
            let direction = if p.fix_wants_direction() {
                self.fix_direction(now, origin, current)
            } else {
                None
            };
            let ctx = Ctx {
                now,
                origin,
                msg: current,
                direction,
                registry: &self.registry,
                inbound: self.addrs.inbound,
            };
            let mut out = Vec::new();
            if p.fix(&ctx, &mut out) {
                log::debug!(target: crate::logging::PROXY, "plugin_{} repaired the message from {}", p.name(), origin.src);
                fixed = Some(out);
            }
        }
        self.plugins = plugins;
        fixed
    }

    /// The direction of a message not yet repaired; a response's is read from the Via below
    /// the top one (ours, or the broken one a plugin replaces).
    fn fix_direction(&self, now: u64, origin: &Origin, msg: &Message<'_>) -> Option<Direction> {
        let heading = if msg.is_request() {
            self.request_direction(now, origin, msg)
        } else {
            let next = msg.vias().nth(1).and_then(Result::ok);
            self.response_direction(now, origin, msg, next.map(|v| (v.host_raw, v.port)))
        };
        heading.map(|h| h.direction)
    }

    /// The ACK of a request a plugin redirected is swallowed once (the 302 was ours).
    pub(super) fn redirected_ack(&mut self, now: u64, msg: &Message<'_>) -> bool {
        if self.redirects.is_empty() || msg.method() != Some(b"ACK") {
            return false;
        }
        self.redirects.retain(|(_, until)| *until > now);
        let Ok(cid) = msg.call_id() else {
            return false;
        };
        match self.redirects.iter().position(|(c, _)| c.as_bytes() == cid) {
            Some(i) => {
                self.redirects.remove(i);
                true
            }
            None => false,
        }
    }

    /// "Determine target" (direction not yet known) or "unknown direction" (`unknown`).
    pub(super) fn plugins_decide(
        &mut self,
        now: u64,
        origin: &Origin,
        msg: &Message<'_>,
        unknown: bool,
    ) -> Outcome {
        if self.plugins.is_empty() {
            return Outcome::Continue;
        }
        let mut plugins = std::mem::take(&mut self.plugins);
        let ctx = Ctx {
            now,
            origin,
            msg,
            direction: None,
            registry: &self.registry,
            inbound: self.addrs.inbound,
        };
        let mut decision = Decision::Continue;
        for p in plugins.iter_mut() {
            decision = if unknown {
                p.unknown_direction(&ctx)
            } else {
                p.determine_target(&ctx)
            };
            if decision != Decision::Continue {
                log::debug!(target: crate::logging::PROXY, "plugin_{}: {decision}", p.name());
                break;
            }
        }
        self.plugins = plugins;
        match decision {
            Decision::Continue => Outcome::Continue,
            Decision::Forward {
                request_uri,
                hop,
                lan_slot,
            } => Outcome::Forward(Forced {
                request_uri,
                hop,
                lan_slot,
            }),
            Decision::Drop(why) => {
                self.drop_msg(DropReason::Plugin, origin, why);
                Outcome::Done
            }
            Decision::Redirect(contact) => {
                self.redirect(now, origin, msg, &contact);
                Outcome::Done
            }
        }
    }

    fn redirect(&mut self, now: u64, origin: &Origin, msg: &Message<'_>, contact: &str) {
        if let Ok(cid) = msg.call_id() {
            if self.redirects.len() >= REDIRECT_CACHE_SIZE {
                self.redirects.remove(0);
            }
            let cid = String::from_utf8_lossy(cid).into_owned();
            self.redirects
                .push((cid, now.saturating_add(REDIRECT_CACHE_MS)));
        }
        let value = format!("<{contact}>");
        self.respond(origin, msg, MOVED_TEMPORARILY, &[("Contact", &value)]);
    }

    /// "Pre-proxy": the plugins' header and body edits join the proxy's; `Some` when a plugin
    /// refuses the message with that status instead.
    pub(super) fn plugins_pre_proxy<'m>(
        &mut self,
        now: u64,
        origin: &Origin,
        msg: &Message<'m>,
        direction: Direction,
        edits: &mut Edits<'m>,
    ) -> Option<Status> {
        if self.plugins.is_empty() {
            return None;
        }
        let mut plugins = std::mem::take(&mut self.plugins);
        let ctx = Ctx {
            now,
            origin,
            msg,
            direction: Some(direction),
            registry: &self.registry,
            inbound: self.addrs.inbound,
        };
        let mut pe = PluginEdits::default();
        for p in plugins.iter_mut() {
            p.pre_proxy(&ctx, &mut pe);
        }
        let mut current = edits.body.take();
        let mut refused = None;
        for p in plugins.iter_mut() {
            let base = current.as_deref().unwrap_or(msg.body());
            match p.body(&ctx, base) {
                BodyAction::Keep => {}
                BodyAction::Replace(new) => current = Some(new),
                BodyAction::Refuse(status) => {
                    refused = Some(status);
                    break;
                }
            }
        }
        edits.body = current;
        self.plugins = plugins;
        edits.remove_headers.extend(pe.remove_headers);
        edits.replace.extend(pe.replace);
        refused
    }

    /// The plugins' timers.
    pub(super) fn plugins_timer(&mut self, now: u64) {
        for p in self.plugins.iter_mut() {
            if p.next_timer().is_some_and(|t| t <= now) {
                p.timer(now);
            }
        }
        self.redirects.retain(|(_, until)| *until > now);
    }

    pub(super) fn plugins_deadline(&self) -> Option<u64> {
        let timers = self.plugins.iter().filter_map(|p| p.next_timer()).min();
        let cache = self.redirects.iter().map(|(_, until)| *until).min();
        [timers, cache].into_iter().flatten().min()
    }
}
