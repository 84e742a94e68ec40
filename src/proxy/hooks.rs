//! Where the enabled plugins are called (behaviour §8.1): raw bytes, "determine target",
//! "unknown direction", "pre-proxy" edits, the body, the timer; and the redirect cache that
//! swallows the ACK of a request a plugin answered with 302.

use super::direction::Direction;
use super::edit::Edits;
use super::settings::Hop;
use super::{DropReason, Origin, Proxy};
use crate::plugins::{BodyAction, Ctx, Decision, PluginEdits};
use crate::sip::{Message, Status};

/// The pipeline's reusable buffers (allocated when plugins are installed or on first use,
/// cleared per message, never shrunk): with them the plugins cost no allocation per
/// message. [`Proxy::set_plugins`] resets them.
#[derive(Default)]
pub(super) struct Bufs {
    /// "Fix": the repaired message and the buffer the next fixing plugin writes into.
    fixed: Vec<u8>,
    fix_next: Vec<u8>,
    /// "Pre-proxy": the plugins' header edits and body of the message being forwarded
    /// (`active` while they belong to it: set by `plugins_pre_proxy`, cleared by `emit`).
    pub edits: PluginEdits,
    pub body: Vec<u8>,
    body_next: Vec<u8>,
    pub has_body: bool,
    pub active: bool,
    /// The route a plugin forced, until `forward_forced` carries it out.
    forced: Forced,
    /// The Contact value of a 302 (`<uri>`).
    contact: String,
}

impl Bufs {
    /// Buffers for `plugins`: nothing unless a plugin is loaded.
    pub(super) fn for_plugins(any: bool) -> Bufs {
        match any {
            true => Bufs {
                edits: PluginEdits::with_capacity(),
                contact: String::with_capacity(crate::limits::PLUGIN_URI_MAX + 2),
                ..Bufs::default()
            },
            false => Bufs::default(),
        }
    }
}

/// A message-sized buffer, emptied, reserved on first use.
fn message_buffer(b: &mut Vec<u8>) -> &mut Vec<u8> {
    b.clear();
    b.reserve(crate::limits::SIP_SEND_BUFFER);
    b
}

/// How long the Call-ID of a redirected request is remembered (siproxd: 20 s).
const REDIRECT_CACHE_MS: u64 = 20_000;
/// Call-IDs remembered at most (the oldest goes first).
const REDIRECT_CACHE_SIZE: usize = 64;

/// A Call-ID as the redirect cache keeps it: its MD5, a fixed size whatever its length.
pub(super) type CallIdDigest = [u8; 16];

fn call_id_digest(cid: &[u8]) -> CallIdDigest {
    use md5::{Digest, Md5};
    Md5::digest(cid).into()
}

/// 302 with the Contact a plugin chose.
const MOVED_TEMPORARILY: Status = Status::new(302, "Moved Temporarily");

/// What the "determine target" and "unknown direction" stages concluded.
pub(super) enum Outcome {
    /// Go on as without plugins.
    Continue,
    /// The message was answered or dropped: nothing more to do.
    Done,
    /// A plugin chose the route (`Decision::Forward`): [`Proxy::forward_forced`] carries it
    /// out.
    Forward,
}

/// A route a plugin forced (siptrunk: towards the LAN, to a registration's contact), copied
/// out of the plugin's decision into buffers that are reused.
#[derive(Default)]
pub(super) struct Forced {
    /// The new Request-URI (`has_request_uri`); none keeps it (with a hop given) or takes
    /// the slot's contact.
    request_uri: String,
    has_request_uri: bool,
    /// The next hop (`has_hop`); none: the slot's contact, or the Request-URI's host.
    hop: Hop,
    has_hop: bool,
    /// The registration concerned: the request goes towards the LAN (incoming).
    pub lan_slot: Option<usize>,
}

impl Forced {
    pub fn request_uri(&self) -> Option<&str> {
        self.has_request_uri.then_some(self.request_uri.as_str())
    }

    pub fn hop(&self) -> Option<&Hop> {
        self.has_hop.then_some(&self.hop)
    }

    fn set(&mut self, request_uri: Option<&str>, hop: Option<&Hop>, lan_slot: Option<usize>) {
        self.request_uri.clear();
        self.request_uri.push_str(request_uri.unwrap_or_default());
        self.has_request_uri = request_uri.is_some();
        self.hop.host.clear();
        if let Some(h) = hop {
            self.hop.host.push_str(&h.host);
            self.hop.port = h.port;
            self.hop.transport = h.transport;
        }
        self.has_hop = hop.is_some();
        self.lan_slot = lan_slot;
    }
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
    /// the repaired message (each plugin sees its predecessor's result), if any was. The
    /// buffer is the pipeline's: give it back with [`Proxy::fix_done`].
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
        let mut fixed = std::mem::take(&mut self.bufs.fixed);
        let mut next = std::mem::take(&mut self.bufs.fix_next);
        let mut any = false;
        for p in plugins.iter_mut().filter(|p| p.fixes()) {
            let reparsed;
            let current = match any {
                false => msg,
                true => match Message::parse(&fixed, origin.transport.framing()) {
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
            if p.fix(&ctx, message_buffer(&mut next)) {
                log::debug!(target: crate::logging::PROXY, "plugin_{} repaired the message from {}", p.name(), origin.src);
                std::mem::swap(&mut fixed, &mut next);
                any = true;
            }
        }
        self.plugins = plugins;
        self.bufs.fix_next = next;
        if any {
            return Some(fixed);
        }
        self.bufs.fixed = fixed;
        None
    }

    /// Takes back the buffer [`Proxy::plugins_fix`] handed out.
    pub(super) fn fix_done(&mut self, fixed: Vec<u8>) {
        self.bufs.fixed = fixed;
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
        let cid = call_id_digest(cid);
        match self.redirects.iter().position(|(c, _)| *c == cid) {
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
            let name = p.name();
            decision = if unknown {
                p.unknown_direction(&ctx)
            } else {
                p.determine_target(&ctx)
            };
            if decision != Decision::Continue {
                log::debug!(target: crate::logging::PROXY, "plugin_{name}: {decision}");
                break;
            }
        }
        let outcome = match decision {
            Decision::Continue => Outcome::Continue,
            Decision::Forward {
                request_uri,
                hop,
                lan_slot,
            } => {
                self.bufs.forced.set(request_uri, hop, lan_slot);
                Outcome::Forward
            }
            Decision::Drop(why) => {
                self.drop_msg(DropReason::Plugin, origin, why);
                Outcome::Done
            }
            Decision::Redirect(contact) => {
                self.redirect(now, origin, msg, contact);
                Outcome::Done
            }
        };
        // The decision borrowed from the plugins: they go back only now.
        self.plugins = plugins;
        outcome
    }

    /// Takes the route of the last `Outcome::Forward` (give it back with
    /// [`Proxy::forced_done`]).
    pub(super) fn take_forced(&mut self) -> Forced {
        std::mem::take(&mut self.bufs.forced)
    }

    pub(super) fn forced_done(&mut self, forced: Forced) {
        self.bufs.forced = forced;
    }

    fn redirect(&mut self, now: u64, origin: &Origin, msg: &Message<'_>, contact: &str) {
        if let Ok(cid) = msg.call_id() {
            if self.redirects.len() >= REDIRECT_CACHE_SIZE {
                self.redirects.remove(0);
            }
            // Room for the whole cache at the first redirect: it never grows after.
            self.redirects
                .reserve_exact(REDIRECT_CACHE_SIZE.saturating_sub(self.redirects.len()));
            self.redirects
                .push((call_id_digest(cid), now.saturating_add(REDIRECT_CACHE_MS)));
        }
        let mut value = std::mem::take(&mut self.bufs.contact);
        value.clear();
        value.push('<');
        value.push_str(contact);
        value.push('>');
        self.respond(origin, msg, MOVED_TEMPORARILY, &[("Contact", &value)]);
        self.bufs.contact = value;
    }

    /// "Pre-proxy": the plugins' header and body edits join the proxy's; `Some` when a plugin
    /// refuses the message with that status instead.
    pub(super) fn plugins_pre_proxy<'m>(
        &mut self,
        now: u64,
        origin: &Origin,
        msg: &Message<'m>,
        direction: Direction,
        edits: &Edits<'m>,
    ) -> Option<Status> {
        self.bufs.active = false;
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
        let bufs = &mut self.bufs;
        bufs.edits.clear();
        bufs.has_body = false;
        for p in plugins.iter_mut() {
            p.pre_proxy(&ctx, &mut bufs.edits);
        }
        let mut refused = None;
        for p in plugins.iter_mut() {
            let base = match bufs.has_body {
                true => &bufs.body[..],
                false => edits.body.as_deref().unwrap_or(msg.body()),
            };
            match p.body(&ctx, base, message_buffer(&mut bufs.body_next)) {
                BodyAction::Keep => {}
                BodyAction::Replaced => {
                    std::mem::swap(&mut bufs.body, &mut bufs.body_next);
                    bufs.has_body = true;
                }
                BodyAction::Refuse(status) => {
                    refused = Some(status);
                    break;
                }
            }
        }
        // `emit` applies them to this message (and only to it: it clears `active`).
        bufs.active = refused.is_none();
        self.plugins = plugins;
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
