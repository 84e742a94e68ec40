//! The built-in plugins (behaviour §8, decisions §1): compiled in, enabled by `load_plugin`
//! in load order. Each plugin is one file here, with its directives read into typed settings
//! at start ([`build`]) and its own tests. The proxy core calls every enabled plugin at
//! siproxd's stages (see [`Plugin`]); a plugin that is not loaded costs nothing.

pub mod blacklist;
pub mod codecfilter;
pub mod defaulttarget;
pub mod demo;
pub mod fix_bogus_via;
pub mod fix_dtag;
pub mod fix_fbox_anoncall;
pub mod logcall;
pub mod prefix;
pub mod redirect;
pub mod regex;
pub mod regex_body;
pub mod regex_redirect;
pub mod shortdial;
pub mod siptrunk;
pub mod stats;
pub mod stripheader;
pub mod stun;

use std::net::{IpAddr, SocketAddr};
use std::ops::Range;

use crate::config::Config;
use crate::proxy::{Direction, Hop, Origin};
use crate::registry::Registry;
use crate::sip::{Message, Status};

/// What a plugin sees of one message.
pub struct Ctx<'a, 'm> {
    pub now: u64,
    pub origin: &'a Origin,
    pub msg: &'a Message<'m>,
    /// The message's direction, once known (`None` at "determine target" and when unknown).
    pub direction: Option<Direction>,
    pub registry: &'a Registry,
    /// The proxy's inbound (LAN) address, for [`Ctx::from_lan_phone`].
    pub inbound: IpAddr,
}

impl Ctx<'_, '_> {
    /// Whether the message is outgoing by siproxd's first direction rule: it arrived on the
    /// LAN address from a host with a registration (or from this host). The routing plugins
    /// ask this at "determine target", where the direction is not decided yet; computed on
    /// demand so that plugins which do not ask pay nothing.
    pub fn from_lan_phone(&self) -> bool {
        let src = self.origin.src.ip().to_canonical();
        // This host, as the proxy's own direction rules count it (not all of 127/8).
        src == IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
            || src == IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
            || (self.origin.local.ip().to_canonical() == self.inbound
                && self.registry.find_by_source_ip(src).is_some())
    }
}

/// A plugin's decision at "determine target" or "unknown direction". What it carries is
/// borrowed from the plugin (its own buffers, reused for every message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision<'a> {
    /// Let the message go on.
    Continue,
    /// Answer the request `302 Moved Temporarily` with this Contact URI; the pipeline
    /// remembers the Call-ID for 20 s and swallows the matching ACK once (behaviour §8.1).
    Redirect(&'a str),
    /// Forward the request with this Request-URI (if given) to this next hop (if given),
    /// towards the LAN when the slot is given (siptrunk), else towards the Internet.
    Forward {
        request_uri: Option<&'a str>,
        hop: Option<&'a Hop>,
        lan_slot: Option<usize>,
    },
    /// Drop the message; the reason is logged.
    Drop(&'static str),
}

/// For the debug log: `continue`, `redirect to <uri>`, `forward with Request-URI <uri> to
/// <host>:<port> (TCP) towards the LAN (slot 2)`, `drop (<reason>)`.
impl std::fmt::Display for Decision<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Decision::Continue => f.write_str("continue"),
            Decision::Redirect(uri) => write!(f, "redirect to {uri}"),
            Decision::Forward {
                request_uri,
                hop,
                lan_slot,
            } => {
                f.write_str("forward")?;
                if let Some(uri) = request_uri {
                    write!(f, " with Request-URI {uri}")?;
                }
                if let Some(hop) = hop {
                    write!(f, " to {}", hop.host)?;
                    if let Some(port) = hop.port {
                        write!(f, ":{port}")?;
                    }
                    if let Some(t) = hop.transport {
                        write!(f, " ({})", t.via_token())?;
                    }
                }
                match lan_slot {
                    Some(slot) => write!(f, " towards the LAN (slot {slot})"),
                    None => f.write_str(" towards the Internet"),
                }
            }
            Decision::Drop(why) => write!(f, "drop ({why})"),
        }
    }
}

/// Edits plugins add to a message the proxy forwards ("pre-proxy"), applied with the
/// proxy's own edits (slices of the message are replaced, header lines removed). The
/// pipeline owns one and clears it per message: nothing is allocated per message.
#[derive(Debug, Default)]
pub struct PluginEdits {
    /// Header lines to remove, by index in the message (`Header::index`).
    pub remove_headers: Vec<usize>,
    /// Byte ranges of the message and of `text`, their new text.
    replace: Vec<(Range<usize>, Range<usize>)>,
    text: String,
}

impl PluginEdits {
    /// Room for every header of a message: reserved once, when plugins are loaded.
    pub fn with_capacity() -> PluginEdits {
        PluginEdits {
            remove_headers: Vec::with_capacity(crate::limits::SIP_MAX_HEADERS),
            replace: Vec::with_capacity(crate::limits::SIP_MAX_HEADERS),
            text: String::with_capacity(crate::limits::SIP_MAX_LINE),
        }
    }

    pub fn clear(&mut self) {
        self.remove_headers.clear();
        self.replace.clear();
        self.text.clear();
    }

    /// Replaces `part` (a slice of `msg`, e.g. a header value) with what `write` appends to
    /// the text it is given; nothing if `part` is not in `msg`.
    pub fn replace(&mut self, msg: &Message<'_>, part: &[u8], write: impl FnOnce(&mut String)) {
        if let Some(r) = msg.range_of(part) {
            let start = self.text.len();
            write(&mut self.text);
            self.replace.push((r, start..self.text.len()));
        }
    }

    /// The replacements: message byte range and new text.
    pub fn replacements(&self) -> impl Iterator<Item = (Range<usize>, &str)> {
        let text = |t: &Range<usize>| self.text.get(t.clone()).unwrap_or_default();
        self.replace.iter().map(move |(r, t)| (r.clone(), text(t)))
    }
}

/// What a plugin did with the body about to be forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyAction {
    Keep,
    /// The new body is in the `out` buffer the pipeline handed over.
    Replaced,
    /// Refuse the message: a request (not ACK) is answered with this status and its offer
    /// undone (codecfilter: no acceptable codec left, 488). Meant for requests only.
    Refuse(Status),
}

/// One built-in plugin. Every stage has a default that does nothing, so a plugin implements
/// only the stages it uses.
pub trait Plugin: std::fmt::Debug {
    /// The name `load_plugin` enables it by (`plugin_NAME.la` → `NAME`).
    fn name(&self) -> &'static str;

    /// Raw bytes before parsing and the access lists; `false` discards the datagram.
    fn raw(&mut self, _now: u64, _src: SocketAddr, _bytes: &[u8]) -> bool {
        true
    }

    /// Whether this plugin implements [`Plugin::fix`] (the proxy works out a direction for
    /// the fix stage only when one does).
    fn fixes(&self) -> bool {
        false
    }

    /// Whether [`Plugin::fix`] needs `ctx.direction` (worked out for it alone: it costs
    /// registry look-ups).
    fn fix_wants_direction(&self) -> bool {
        false
    }

    /// A parsed, valid message before any of the proxy's own checks: a plugin that repairs
    /// it (fix_bogus_via, fix_DTAG, fix_fbox_anoncall, regex_body) writes the corrected
    /// message into `out` and returns `true`; the proxy then parses and handles that copy
    /// instead. `ctx.direction` is the proxy's reading of the unrepaired message if the
    /// plugin wants it, else `None`.
    fn fix(&mut self, _ctx: &Ctx<'_, '_>, _out: &mut Vec<u8>) -> bool {
        false
    }

    /// A parsed, valid message before its direction is decided: a request may be answered
    /// (redirect), routed elsewhere or dropped.
    fn determine_target(&mut self, _ctx: &Ctx<'_, '_>) -> Decision<'_> {
        Decision::Continue
    }

    /// A request whose direction is unknown (otherwise answered 408).
    fn unknown_direction(&mut self, _ctx: &Ctx<'_, '_>) -> Decision<'_> {
        Decision::Continue
    }

    /// A message about to be forwarded (direction known): header edits.
    fn pre_proxy(&mut self, _ctx: &Ctx<'_, '_>, _edits: &mut PluginEdits) {}

    /// The body about to be forwarded (after the SDP relay rewrite): kept, replaced (the new
    /// body written into `out`, a buffer the pipeline reuses), or the message refused.
    fn body(&mut self, _ctx: &Ctx<'_, '_>, _body: &[u8], _out: &mut Vec<u8>) -> BodyAction {
        BodyAction::Keep
    }

    /// The periodic timer (`now` in ms).
    fn timer(&mut self, _now: u64) {}

    /// When `timer` next wants to run, if ever.
    fn next_timer(&self) -> Option<u64> {
        None
    }
}

/// Why a plugin's directives were refused: the directive (and list entry) at fault, so the
/// configuration check can point at its file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError {
    pub directive: &'static str,
    /// 0-based entry of a repeatable directive, when one entry is at fault.
    pub entry: Option<usize>,
    pub message: String,
}

impl BuildError {
    pub fn new(directive: &'static str, message: String) -> BuildError {
        BuildError {
            directive,
            entry: None,
            message,
        }
    }
    pub fn at(directive: &'static str, entry: usize, message: String) -> BuildError {
        BuildError {
            entry: Some(entry),
            ..BuildError::new(directive, message)
        }
    }
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.directive, self.message)
    }
}

/// Builds one plugin from its directives; a bad value is an error naming the directive (a
/// missing required one and unpaired lists are found earlier, by `config::validate`).
pub type Builder = fn(&Config) -> Result<Box<dyn Plugin>, BuildError>;

/// The plugins this build knows, by `load_plugin` name.
fn builder(name: &str) -> Option<Builder> {
    Some(match name {
        "demo" => demo::build,
        "logcall" => logcall::build,
        "shortdial" => shortdial::build,
        "prefix" => prefix::build,
        "regex" => regex_redirect::build,
        "defaulttarget" => defaulttarget::build,
        "siptrunk" => siptrunk::build,
        "fix_bogus_via" => fix_bogus_via::build,
        "fix_DTAG" => fix_dtag::build,
        "fix_fbox_anoncall" => fix_fbox_anoncall::build,
        "codecfilter" => codecfilter::build,
        "regex_body" => regex_body::build,
        "stripheader" => stripheader::build,
        _ => return None,
    })
}

/// The enabled plugins in `load_plugin` order, built from `cfg`; an error in a plugin's
/// directives stops start-up.
pub fn build(cfg: &Config) -> Result<Vec<Box<dyn Plugin>>, BuildError> {
    let mut out = Vec::new();
    for name in &cfg.load_plugin {
        // Not message stages: the core runs stun, the shell stats; their directives are
        // checked here all the same.
        match name.as_str() {
            "stun" => {
                stun::Client::from_config(cfg, 0)?;
                continue;
            }
            "stats" => {
                stats::Stats::from_config(cfg, 0)?;
                continue;
            }
            _ => {}
        }
        // `blacklist` has no builder: the proxy builds it, to screen datagrams before any
        // stage. Every other name `load_plugin` accepts has one (tested).
        if let Some(b) = builder(name) {
            out.push(b(cfg)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn every_plugin_load_plugin_accepts_is_built() {
        for name in crate::config::BUILTIN_PLUGINS {
            let elsewhere = ["stun", "stats", "blacklist"].contains(&name);
            assert_eq!(builder(name).is_some(), !elsewhere, "{name}");
        }
    }

    /// Every problem `siproxd.conf` text `t.conf` is refused for, one `file:line: ...` each.
    pub fn load_errors(text: &str) -> String {
        match crate::config::parse_conf(text.as_bytes(), "t.conf", &[], false) {
            Ok(_) => String::new(),
            Err(diags) => diags.iter().map(|d| format!("{d}\n")).collect(),
        }
    }
    use crate::sansio::Transport;
    use crate::sip::Framing;

    #[test]
    fn decisions_show_everything_they_carry() {
        assert_eq!(Decision::Continue.to_string(), "continue");
        assert_eq!(
            Decision::Redirect("sip:1@h").to_string(),
            "redirect to sip:1@h"
        );
        assert_eq!(Decision::Drop("why").to_string(), "drop (why)");
        let d = Decision::Forward {
            request_uri: Some("sip:2@t"),
            hop: Some(&Hop {
                host: "t.example".into(),
                port: Some(5070),
                transport: Some(Transport::Tcp),
            }),
            lan_slot: Some(3),
        };
        assert_eq!(
            d.to_string(),
            "forward with Request-URI sip:2@t to t.example:5070 (TCP) towards the LAN (slot 3)"
        );
        let d = Decision::Forward {
            request_uri: None,
            hop: None,
            lan_slot: None,
        };
        assert_eq!(d.to_string(), "forward towards the Internet");
    }

    /// Runs `f` with a context for a request whose first line is `first_line`, from a phone
    /// (192.168.1.10:5060) on the LAN, with an empty registration table.
    pub fn ctx_for<R>(first_line: &str, f: impl FnOnce(&Ctx<'_, '_>) -> R) -> R {
        let text = format!(
            "{first_line}\r\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKp1\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1@h\r\nCSeq: 1 {}\r\nContent-Length: 0\r\n\r\n",
            first_line.split(' ').next().unwrap_or("")
        );
        with_ctx(&text, f)
    }

    /// Runs `f` with a context for the message `text` received from `src` on `local`, with
    /// `direction` and `registry`.
    pub fn with_ctx_full<R>(
        text: &str,
        src: &str,
        local: &str,
        direction: Option<Direction>,
        registry: &Registry,
        f: impl FnOnce(&Ctx<'_, '_>) -> R,
    ) -> R {
        let msg = Message::parse(text.as_bytes(), Framing::Datagram).unwrap();
        let origin = Origin {
            transport: Transport::Udp,
            src: src.parse().unwrap(),
            local: local.parse().unwrap(),
            connection: None,
        };
        let ctx = Ctx {
            now: 1000,
            origin: &origin,
            msg: &msg,
            direction,
            registry,
            // The §11 fixture's LAN address, also for messages that arrive on the WAN one.
            inbound: "192.168.1.1".parse().unwrap(),
        };
        f(&ctx)
    }

    /// Runs `f` with a context for the message `text` received from `src`.
    pub fn with_ctx_from<R>(text: &str, src: &str, f: impl FnOnce(&Ctx<'_, '_>) -> R) -> R {
        with_ctx_full(text, src, "192.168.1.1:5060", None, &Registry::new(4), f)
    }

    /// [`with_ctx_from`] a phone on the LAN (192.168.1.10:5060).
    pub fn with_ctx<R>(text: &str, f: impl FnOnce(&Ctx<'_, '_>) -> R) -> R {
        with_ctx_from(text, "192.168.1.10:5060", f)
    }

    #[test]
    fn enabled_plugins_are_built_in_load_order_and_unknown_ones_skipped() {
        let cfg = Config {
            load_plugin: vec!["logcall".into(), "nosuch".into(), "demo".into()],
            ..Config::default()
        };
        let names: Vec<&str> = build(&cfg).unwrap().iter().map(|p| p.name()).collect();
        assert_eq!(names, ["logcall", "demo"]);
    }
}
