//! Issue 11, "hot path": plugins that are not loaded cost nothing, loaded ones allocate nothing
//! per message — proven with the counting allocator on the real proxy core (§11 lab, virtual
//! clock), every message-stage plugin loaded.
//!
//! Method. Every message is handled once to warm up (buffers reserve their room on first use),
//! then its allocations are counted on a second pass. Two measures:
//! 1. Inside the plugins: each plugin is wrapped in [`Counted`], which counts the allocations
//!    made during each of its stage calls (raw, fix, determine target, unknown direction,
//!    pre-proxy, body, timer). After warm-up the total must be 0, for plugins that act on the
//!    messages (302s, ACKs swallowed, routes, edits, fixes, log lines) and for plugins loaded
//!    but not acting.
//! 2. The whole message, pipeline included (`proxy::hooks`: decisions, the redirect cache,
//!    the edit, body and fix buffers): the proxy with the plugins must allocate exactly what
//!    the proxy without plugins allocates for a message that takes the same core path. The
//!    core itself still allocates per message (its edits build owned strings, docs/PERFORMANCE.md),
//!    so the baseline is chosen per message:
//!    - a message the plugins edit (header stripped, codec removed, body rewritten, Via or
//!      Contact fixed) against the same message already edited that way;
//!    - a request a plugin answers with 302 against the same request answered by the core
//!      itself with the same kind of generated response (483 for Max-Forwards 0 at the same
//!      point, or the 408 the core gives a request of unknown direction);
//!    - an ACK a plugin or the redirect cache swallows against an ACK the core drops;
//!    - the request siptrunk routes to the trunk's phone (among all the plugins) against the
//!      same request routed by [`Forcing`], a plugin of this file that returns the same
//!      route from a hop made once (the core path and the pipeline's part are then the same;
//!      no core path without plugins routes a request of unknown direction). It is also
//!      checked to cost no more than the core's 408 for it plus the core forwarding a request
//!      for the registered user to the same phone (the forced route skips the answer, the
//!      direction look-up and the new Request-URI).
//!
//! A logger that formats every record at every level is installed, so the arguments of every
//! log line the plugins write are evaluated and displayed (it allocates nothing itself; the
//! daemon's logger formats into a stack buffer, `logging::LINE_MAX`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test helpers: a failed set-up panics, as a test should

use std::cell::Cell;
use std::fmt::Write as _;
use std::net::SocketAddr;

use alloc::allocations_during;
use lab::*;
use siproxd_rs::acl::AclList;
use siproxd_rs::config::{Config, PluginConfig};
use siproxd_rs::plugins::{BodyAction, Ctx, Decision, Plugin, PluginEdits};
use siproxd_rs::proxy::Origin;
use siproxd_rs::sansio::Transport;

mod alloc;
mod lab;

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

thread_local! {
    /// Allocations made inside plugin stage calls on this thread.
    static IN_PLUGINS: Cell<usize> = const { Cell::new(0) };
}

fn in_plugins() -> usize {
    IN_PLUGINS.with(Cell::get)
}

/// Runs `f`, adding the allocations it made to [`IN_PLUGINS`].
fn counted<R>(f: impl FnOnce() -> R) -> R {
    let (n, r) = allocations_during(f);
    IN_PLUGINS.with(|c| c.set(c.get() + n));
    r
}

/// A plugin whose every stage call is counted.
#[derive(Debug)]
struct Counted(Box<dyn Plugin>);

impl Plugin for Counted {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn raw(&mut self, now: u64, src: SocketAddr, bytes: &[u8]) -> bool {
        counted(|| self.0.raw(now, src, bytes))
    }
    fn fixes(&self) -> bool {
        self.0.fixes()
    }
    fn fix_wants_direction(&self) -> bool {
        self.0.fix_wants_direction()
    }
    fn fix(&mut self, ctx: &Ctx<'_, '_>, out: &mut Vec<u8>) -> bool {
        counted(|| self.0.fix(ctx, out))
    }
    fn determine_target(&mut self, ctx: &Ctx<'_, '_>) -> Decision<'_> {
        counted(|| self.0.determine_target(ctx))
    }
    fn unknown_direction(&mut self, ctx: &Ctx<'_, '_>) -> Decision<'_> {
        counted(|| self.0.unknown_direction(ctx))
    }
    fn pre_proxy(&mut self, ctx: &Ctx<'_, '_>, edits: &mut PluginEdits) {
        counted(|| self.0.pre_proxy(ctx, edits))
    }
    fn body(&mut self, ctx: &Ctx<'_, '_>, body: &[u8], out: &mut Vec<u8>) -> BodyAction {
        counted(|| self.0.body(ctx, body, out))
    }
    fn timer(&mut self, now: u64) {
        counted(|| self.0.timer(now))
    }
    fn next_timer(&self) -> Option<u64> {
        self.0.next_timer()
    }
}

/// Formats every record into nothing: the arguments of each log line are evaluated and
/// displayed, without an allocation of its own.
struct Formatting;

struct Discard;

impl std::fmt::Write for Discard {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        std::hint::black_box(s);
        Ok(())
    }
}

impl log::Log for Formatting {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let _ = write!(Discard, "{} {}", record.target(), record.args());
    }
    fn flush(&self) {}
}

static LOGGER: Formatting = Formatting;

fn log_everything() {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Trace);
}

/// Every message-stage plugin, in an order where each one gets to act on some message.
const ALL: [&str; 13] = [
    "demo",
    "logcall",
    "shortdial",
    "regex",
    "prefix",
    "siptrunk",
    "defaulttarget",
    "stripheader",
    "codecfilter",
    "regex_body",
    "fix_bogus_via",
    "fix_DTAG",
    "fix_fbox_anoncall",
];

fn acl(s: &str) -> Option<AclList> {
    Some(AclList::parse(s).unwrap())
}

/// Settings with which the plugins act on the messages below.
fn acting() -> PluginConfig {
    PluginConfig {
        plugin_demo_string: Some("demo".into()),
        plugin_shortdial_akey: Some("*00".into()),
        plugin_shortdial_entry: vec!["100".into()],
        plugin_regex_desc: vec!["intl".into()],
        plugin_regex_pattern: vec!["^sip:00([0-9]+)@(.*)$".into()],
        plugin_regex_replace: vec!["sip:+\\1@\\2".into()],
        plugin_prefix_akey: Some("0".into()),
        plugin_siptrunk_name: vec!["trunk".into()],
        plugin_siptrunk_account: vec!["sip:alice@example.com".into()],
        plugin_siptrunk_numbers_regex: vec!["^4930555[0-9]*$".into()],
        plugin_defaulttarget_target: Some("sip:100@192.168.1.20".into()),
        plugin_defaulttarget_log: 1,
        plugin_stripheader_remove: vec!["X-Secret".into(), "Allow:update".into()],
        plugin_codecfilter_blacklist: vec!["G729".into()],
        plugin_regex_body_desc: vec!["name".into()],
        plugin_regex_body_pattern: vec!["s=se(c)ret".into()],
        plugin_regex_body_replace: vec!["s=publi\\1".into()],
        plugin_fix_bogus_via_networks: acl("10.0.0.0/8"),
        plugin_fix_dtag_networks: acl("198.51.100.0/24"),
        plugin_fix_fbox_anoncall_networks: acl("192.168.1.0/24"),
        ..PluginConfig::default()
    }
}

/// The same plugins set so that none of them acts on the messages below (prefix still
/// checks every INVITE: the forwarded ones carry its marker).
fn idle() -> PluginConfig {
    PluginConfig {
        plugin_demo_string: Some("demo".into()),
        plugin_shortdial_akey: Some("#00".into()),
        plugin_shortdial_entry: vec!["100".into()],
        plugin_regex_desc: vec!["none".into()],
        plugin_regex_pattern: vec!["^tel:".into()],
        plugin_regex_replace: vec!["x".into()],
        plugin_prefix_akey: Some("0".into()),
        plugin_siptrunk_name: vec!["trunk".into()],
        plugin_siptrunk_account: vec!["sip:alice@example.com".into()],
        plugin_siptrunk_numbers_regex: vec!["^999$".into()],
        plugin_defaulttarget_target: Some("sip:100@192.168.1.20".into()),
        plugin_stripheader_remove: vec!["X-Absent".into()],
        plugin_codecfilter_blacklist: vec!["H261".into()],
        plugin_regex_body_desc: vec!["none".into()],
        plugin_regex_body_pattern: vec!["zzz".into()],
        plugin_regex_body_replace: vec!["y".into()],
        plugin_fix_bogus_via_networks: acl("172.16.0.0/12"),
        plugin_fix_dtag_networks: acl("172.16.0.0/12"),
        plugin_fix_fbox_anoncall_networks: acl("172.16.0.0/12"),
        ..PluginConfig::default()
    }
}

/// The lab with A registered and `plugins` loaded (each wrapped in [`Counted`]), or none.
fn lab(plugins: Option<PluginConfig>) -> Lab {
    let cfg = Config {
        load_plugin: match plugins {
            Some(_) => ALL.iter().map(|p| p.to_string()).collect(),
            None => Vec::new(),
        },
        plugins: plugins.unwrap_or_default(),
        ..Lab::config()
    };
    let mut lab = Lab::with(cfg.clone());
    let built = siproxd_rs::plugins::build(&cfg).unwrap();
    assert_eq!(built.len(), cfg.load_plugin.len());
    lab.proxy.set_plugins(
        built
            .into_iter()
            .map(|p| Box::new(Counted(p)) as Box<dyn Plugin>)
            .collect(),
    );
    lab.register_alice(3600);
    lab
}

/// One message: where it comes from and its bytes.
struct Msg {
    src: &'static str,
    local: &'static str,
    bytes: Vec<u8>,
}

fn lan(text: &str) -> Msg {
    Msg {
        src: A,
        local: I,
        bytes: crlf(text),
    }
}

fn wan(src: &'static str, text: &str) -> Msg {
    Msg {
        src,
        local: O,
        bytes: crlf(text),
    }
}

/// Allocations `lab` makes handling `m` (the output is drained outside the count) and what
/// it sent.
fn handle(lab: &mut Lab, m: &Msg) -> (usize, Vec<Sent>) {
    let origin = Origin {
        transport: Transport::Udp,
        src: sa(m.src),
        local: SocketAddr::new(ip(m.local), 5060),
        connection: None,
    };
    let (now, proxy, media) = (lab.now, &mut lab.proxy, &mut lab.media);
    let (n, ()) = allocations_during(|| proxy.handle_message(now, origin, &m.bytes, media));
    (n, lab.take())
}

const SDP_OFFER: &str = "v=0\no=- 1 1 IN IP4 192.168.1.10\ns=secret\nc=IN IP4 192.168.1.10\nt=0 0\nm=audio 4000 RTP/AVP 0 18\na=rtpmap:0 PCMU/8000\na=rtpmap:18 G729/8000\na=fmtp:18 annexb=no\n";
/// The offer as the plugins leave it: G729 gone, the session renamed.
const SDP_OFFER_EDITED: &str = "v=0\no=- 1 1 IN IP4 192.168.1.10\ns=public\nc=IN IP4 192.168.1.10\nt=0 0\nm=audio 4000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n";
const SDP_ANSWER: &str = "v=0\no=- 2 2 IN IP4 198.51.100.30\ns=-\nc=IN IP4 198.51.100.30\nt=0 0\nm=audio 5000 RTP/AVP 0 18\na=rtpmap:0 PCMU/8000\na=rtpmap:18 G729/8000\n";
const SDP_ANSWER_EDITED: &str = "v=0\no=- 2 2 IN IP4 198.51.100.30\ns=-\nc=IN IP4 198.51.100.30\nt=0 0\nm=audio 5000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n";

/// A request from A: `method` to `ruri`, To `to`, with `extra` header lines and `body`.
fn from_a(method: &str, ruri: &str, to: &str, call: &str, extra: &str, body: &str) -> String {
    request(
        &format!("{method} {ruri} SIP/2.0"),
        &format!("Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK{call}\n{extra}From: <sip:alice@example.com>;tag=a1\nTo: {to}\nCall-ID: {call}@192.168.1.10\nCSeq: 1 {method}\nContact: <sip:alice@192.168.1.10:5060>\n"),
        body,
    )
}

/// A request from the provider with top Via sent-by `via`.
fn from_provider(method: &str, ruri: &str, to: &str, call: &str, via: &str) -> String {
    request(
        &format!("{method} {ruri} SIP/2.0"),
        &format!("Via: SIP/2.0/UDP {via};branch=z9hG4bK{call}\nMax-Forwards: 70\nFrom: <sip:+4989123@example.com>;tag=p1\nTo: {to}\nCall-ID: {call}@198.51.100.20\nCSeq: 1 {method}\nContact: <sip:+4989123@198.51.100.20>\n"),
        "",
    )
}

/// B's 200 to A's forwarded INVITE, our Via on top written as `our_via`.
fn answer_from_b(our_via: &str, extra: &str, body: &str) -> String {
    format!(
        "SIP/2.0 200 OK\nVia: SIP/2.0/UDP {our_via};branch=z9hG4bKours\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKfw1\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com;redirected=prefix>;tag=b1\nCall-ID: fw1@192.168.1.10\nCSeq: 1 INVITE\nContact: <sip:bob@198.51.100.30:5060>\n{extra}Content-Type: application/sdp\nContent-Length: {}\n\n{body}",
        crlf(body).len()
    )
}

/// A's 200 to the provider's INVITE forwarded to it, with Contact user `user`.
fn answer_from_a(user: &str) -> String {
    format!(
        "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 192.168.1.1:5060;branch=z9hG4bKours\nVia: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bKin1\nFrom: <sip:+4989123@example.com>;tag=p1\nTo: <sip:alice@example.com>;tag=a2\nCall-ID: in1@198.51.100.20\nCSeq: 1 INVITE\nContact: <sip:{user}@192.168.1.10:5060>\nContent-Length: 0\n\n"
    )
}

/// A's forwarded call: To carries prefix's marker, so prefix lets it through.
const MARKED: &str = "<sip:bob@example.com;redirected=prefix>";
const RURI_B: &str = "sip:bob@198.51.100.30";

/// The messages a call forwarded both ways takes, as the plugins receive them (`plugins`
/// true: with what they strip, filter, rewrite and fix) or as they leave them.
fn forwarded(plugins: bool) -> Vec<Msg> {
    let (extra, offer, answer, our_via, provider_via, contact_user) = match plugins {
        true => (
            "Max-Forwards: 70\nX-Secret: 1\nAllow: INVITE, ACK, UPDATE\n",
            SDP_OFFER,
            SDP_ANSWER,
            "198.51.100.99:5060",
            "10.1.2.3:5062",
            "anonymous",
        ),
        false => (
            "Max-Forwards: 70\nAllow: INVITE, ACK\n",
            SDP_OFFER_EDITED,
            SDP_ANSWER_EDITED,
            "203.0.113.5:5060",
            "198.51.100.20:5060",
            "alice",
        ),
    };
    vec![
        lan(&from_a("INVITE", RURI_B, MARKED, "fw1", extra, offer)),
        wan(B, &answer_from_b(our_via, "", answer)),
        wan(
            PROVIDER,
            &from_provider(
                "INVITE",
                "sip:alice@203.0.113.5",
                "<sip:alice@example.com>",
                "in1",
                provider_via,
            ),
        ),
        lan(&answer_from_a(contact_user)),
    ]
}

/// A request from A the core answers itself before routing it (Max-Forwards 0: 483).
fn exhausted(method: &str, ruri: &str, to: &str, call: &str) -> Msg {
    lan(&from_a(method, ruri, to, call, "Max-Forwards: 0\n", ""))
}

/// Runs `msgs` through `lab` twice and returns the second pass: allocations and output per
/// message, and the allocations made inside plugin stages during it.
fn warm(lab: &mut Lab, msgs: &[Msg]) -> (Vec<(usize, Vec<Sent>)>, usize) {
    for m in msgs {
        handle(lab, m);
        lab.now += 10;
    }
    let before = in_plugins();
    let got = msgs
        .iter()
        .map(|m| {
            let r = handle(lab, m);
            lab.now += 10;
            r
        })
        .collect();
    (got, in_plugins() - before)
}

fn one(out: &[Sent]) -> &Sent {
    assert_eq!(out.len(), 1, "exactly one message sent: {out:?}");
    &out[0]
}

#[test]
fn acting_plugins_allocate_nothing_and_the_pipeline_nothing_either() {
    log_everything();
    let mut with = lab(Some(acting()));
    let mut bare = lab(None);

    // Edited on the way: each message against the same message already edited.
    let (got, inside) = warm(&mut with, &forwarded(true));
    let (base, _) = warm(&mut bare, &forwarded(false));
    assert_eq!(inside, 0, "allocations inside plugin stages");
    // The plugins acted: compare what went out.
    let invite = one(&got[0].1);
    assert!(invite.headers("X-Secret").is_empty(), "{}", invite.text);
    assert_eq!(invite.headers("Allow"), ["INVITE, ACK"]);
    assert!(invite.body().contains("s=public\r\n"), "{}", invite.text);
    assert!(!invite.body().contains("G729"), "{}", invite.text);
    assert_eq!(
        invite.text,
        one(&base[0].1).text,
        "the same INVITE as pre-edited"
    );
    let ok = one(&got[1].1);
    assert_eq!(ok.to, sa(A), "fix_DTAG gave our Via back");
    assert!(!ok.body().contains("G729"), "{}", ok.text);
    assert_eq!(ok.text, one(&base[1].1).text);
    let incoming = one(&got[2].1);
    assert_eq!(
        incoming.headers("Via")[1],
        "SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bKin1",
        "fix_bogus_via"
    );
    assert_eq!(incoming.text, one(&base[2].1).text);
    let ok = one(&got[3].1);
    assert_eq!(ok.header("Contact").unwrap(), "<sip:alice@203.0.113.5>");
    assert_eq!(ok.text, one(&base[3].1).text, "fix_fbox_anoncall");
    for (i, ((n, _), (m, _))) in got.iter().zip(&base).enumerate() {
        assert_eq!(n, m, "message {i}: with the plugins against without");
    }

    // Answered 302 by a plugin, its ACK swallowed; the core's own answers and drops as the
    // baseline.
    let shortdial = "<sip:*01@example.com;redirected=prefix>";
    let regex = "<sip:00301234@example.com>";
    let prefix = "<sip:301234@example.com>";
    // The INVITEs first, then their ACKs: the redirect cache holds several calls at once.
    let mut redirected = Vec::new();
    let mut answered = Vec::new();
    let calls = [
        ("sip:*01@example.com", shortdial, "sd1"),
        ("sip:00301234@example.com", regex, "rx1"),
        ("sip:301234@example.com", prefix, "px1"),
    ];
    for method in ["INVITE", "ACK"] {
        for (ruri, to, call) in calls {
            let mf = "Max-Forwards: 70\n";
            redirected.push(lan(&from_a(method, ruri, to, call, mf, "")));
            answered.push(exhausted(method, ruri, to, call));
        }
        // Unknown direction from the Internet: defaulttarget's 302 and its ACK against the
        // core's 408 and its dropped ACK.
        let nobody = from_provider(
            method,
            "sip:nobody@203.0.113.5",
            "<sip:nobody@example.com>",
            "dt1",
            "198.51.100.20:5060",
        );
        redirected.push(wan(PROVIDER, &nobody));
        answered.push(wan(PROVIDER, &nobody));
    }
    let (got, inside) = warm(&mut with, &redirected);
    let (base, _) = warm(&mut bare, &answered);
    assert_eq!(inside, 0, "allocations inside plugin stages");
    let contacts = [
        "<sip:100@example.com;redirected=prefix>",
        "<sip:+301234@example.com;redirected=regex>",
        "<sip:0301234@example.com;redirected=prefix>",
        "<sip:100@192.168.1.20>",
    ];
    for (i, contact) in contacts.iter().enumerate() {
        let r = one(&got[i].1);
        assert_eq!(r.status(), Some(302), "{}", r.text);
        assert_eq!(r.header("Contact").as_deref(), Some(*contact));
        assert!(got[i + 4].1.is_empty(), "the ACK is swallowed");
        let b = one(&base[i].1);
        assert!(matches!(b.status(), Some(483 | 408)), "{}", b.text);
        assert!(base[i + 4].1.is_empty());
    }
    for (i, ((n, _), (m, _))) in got.iter().zip(&base).enumerate() {
        assert_eq!(
            n, m,
            "message {i}: answered by a plugin against by the core"
        );
    }

    // siptrunk routes a number nobody registered to the trunk's phone (A), Request-URI kept.
    let trunk = wan(
        PROVIDER,
        &from_provider(
            "INVITE",
            "sip:4930555123@203.0.113.5",
            "<sip:4930555123@example.com>",
            "tr1",
            "198.51.100.20:5060",
        ),
    );
    let for_alice = wan(
        PROVIDER,
        &from_provider(
            "INVITE",
            "sip:alice@203.0.113.5",
            "<sip:alice@example.com>",
            "tr1",
            "198.51.100.20:5060",
        ),
    );
    // The same route forced by a plugin that cannot allocate (it returns a hop built once).
    let slot = bare.proxy.registry().iter().next().unwrap().0;
    let mut forcing = lab(None);
    forcing
        .proxy
        .set_plugins(vec![Box::new(Counted(Box::new(Forcing(
            siproxd_rs::proxy::Hop {
                host: "192.168.1.10".into(),
                port: Some(5060),
                transport: None,
            },
            slot,
        ))))]);
    let (got, inside) = warm(&mut with, std::slice::from_ref(&trunk));
    assert_eq!(inside, 0, "allocations inside plugin stages");
    let (reference, inside) = warm(&mut forcing, std::slice::from_ref(&trunk));
    assert_eq!(inside, 0, "the reference plugin allocates nothing");
    let (base, _) = warm(&mut bare, &[trunk, for_alice]);
    let routed = one(&got[0].1);
    assert_eq!(routed.to, sa(A));
    assert_eq!(
        routed.first_line(),
        "INVITE sip:4930555123@203.0.113.5 SIP/2.0"
    );
    assert_eq!(routed.text, one(&reference[0].1).text);
    assert_eq!(one(&base[0].1).status(), Some(408));
    assert_eq!(one(&base[1].1).to, sa(A));
    assert_eq!(
        got[0].0, reference[0].0,
        "siptrunk (among all plugins) against a plugin forcing the same route"
    );
    assert!(
        got[0].0 <= base[0].0 + base[1].0,
        "siptrunk's route ({}) against the core's 408 and incoming paths ({} + {})",
        got[0].0,
        base[0].0,
        base[1].0
    );
}

/// Routes every request of unknown direction to one registration, with a hop made once.
#[derive(Debug)]
struct Forcing(siproxd_rs::proxy::Hop, usize);

impl Plugin for Forcing {
    fn name(&self) -> &'static str {
        "forcing"
    }
    fn unknown_direction(&mut self, _: &Ctx<'_, '_>) -> Decision<'_> {
        Decision::Forward {
            request_uri: None,
            hop: Some(&self.0),
            lan_slot: Some(self.1),
        }
    }
}

#[test]
fn idle_plugins_allocate_nothing_and_the_pipeline_nothing_either() {
    log_everything();
    let mut with = lab(Some(idle()));
    let mut bare = lab(None);
    let msgs = forwarded(false);
    let (got, inside) = warm(&mut with, &msgs);
    let (base, _) = warm(&mut bare, &msgs);
    assert_eq!(inside, 0, "allocations inside plugin stages");
    for (i, ((n, a), (m, b))) in got.iter().zip(&base).enumerate() {
        assert_eq!(one(a).text, one(b).text, "message {i}: nothing changed");
        assert_eq!(n, m, "message {i}: with idle plugins against without");
    }
}
