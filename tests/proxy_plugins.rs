//! The routing plugins (behaviour §8.2: shortdial, prefix, regex, defaulttarget, siptrunk)
//! through the sans-IO proxy core, with the §11 lab (A registered in outbound-proxy mode as
//! `sip:alice@example.com`) and a virtual clock.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // tests: a failed set-up panics, as a test should
mod lab;
use lab::*;

use siproxd_rs::config::{Config, PluginConfig};
use siproxd_rs::proxy::DropReason;

/// A lab with `plugins` enabled (in that order) and their directives; A registered.
fn lab_with(plugins: &[&str], directives: PluginConfig) -> Lab {
    let cfg = Config {
        load_plugin: plugins.iter().map(|p| p.to_string()).collect(),
        plugins: directives,
        ..Lab::config()
    };
    let mut lab = Lab::with(cfg.clone());
    lab.proxy
        .set_plugins(siproxd_rs::plugins::build(&cfg).unwrap());
    lab.register_alice(3600);
    lab
}

/// A request from A (LAN) with Request-URI `ruri` and To `to`.
fn from_a(method: &str, ruri: &str, to: &str, call: &str) -> String {
    request(
        &format!("{method} {ruri} SIP/2.0"),
        &format!("Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK{call}{method}\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a1\nTo: {to}\nCall-ID: {call}@192.168.1.10\nCSeq: 1 {method}\nContact: <sip:alice@192.168.1.10:5060>\n"),
        "",
    )
}

/// A request from the provider (Internet) with Request-URI `ruri` and To `to`.
fn from_provider(method: &str, ruri: &str, to: &str, call: &str) -> String {
    request(
        &format!("{method} {ruri} SIP/2.0"),
        &format!("Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK{call}{method}\nMax-Forwards: 70\nFrom: <sip:+4989123@example.com>;tag=p1\nTo: {to}\nCall-ID: {call}@198.51.100.20\nCSeq: 1 {method}\nContact: <sip:+4989123@198.51.100.20>\n"),
        "",
    )
}

fn one(out: Vec<Sent>) -> Sent {
    assert_eq!(out.len(), 1, "exactly one message sent: {out:?}");
    out.into_iter().next().unwrap()
}

/// Asserts `s` is our 302 to A with `contact`.
fn redirect_to_a(s: &Sent, contact: &str) {
    assert_eq!(s.first_line(), "SIP/2.0 302 Moved Temporarily");
    assert_eq!(s.to, sa(A), "back to the phone");
    assert_eq!(s.from, ip(I));
    assert_eq!(s.headers("Contact"), vec![format!("<{contact}>")]);
}

#[test]
fn shortdial_star_01_is_redirected_to_entry_1_and_its_ack_consumed() {
    let mut lab = lab_with(
        &["shortdial"],
        PluginConfig {
            plugin_shortdial_akey: Some("*00".into()),
            plugin_shortdial_entry: vec!["0301234".into(), "bob@other.net".into()],
            ..PluginConfig::default()
        },
    );
    let r = one(lab.on_lan(
        A,
        &from_a(
            "INVITE",
            "sip:*01@example.com",
            "<sip:*01@example.com>",
            "sd1",
        ),
    ));
    redirect_to_a(&r, "sip:0301234@example.com");
    assert_eq!(r.header("Call-ID").unwrap(), "sd1@192.168.1.10");
    let acks = lab.on_lan(
        A,
        &from_a("ACK", "sip:*01@example.com", "<sip:*01@example.com>", "sd1"),
    );
    assert!(acks.is_empty(), "the ACK of our 302 goes nowhere: {acks:?}");
    // Entry 2 names a host too.
    let r = one(lab.on_lan(
        A,
        &from_a(
            "INVITE",
            "sip:*02@example.com",
            "<sip:*02@example.com>",
            "sd2",
        ),
    ));
    redirect_to_a(&r, "sip:bob@other.net");
    // The call to the target goes out as any other.
    let f = one(lab.on_lan(
        A,
        &from_a(
            "INVITE",
            "sip:0301234@example.com",
            "<sip:0301234@example.com>",
            "sd3",
        ),
    ));
    assert_eq!(f.first_line(), "INVITE sip:0301234@example.com SIP/2.0");
    assert_eq!(f.to, sa(PROVIDER));
    assert_eq!(f.from, ip(O));
}

#[test]
fn shortdial_ack_is_consumed_even_after_the_redirect_cache_forgot_it() {
    let mut lab = lab_with(
        &["shortdial"],
        PluginConfig {
            plugin_shortdial_akey: Some("*00".into()),
            plugin_shortdial_entry: vec!["100".into()],
            ..PluginConfig::default()
        },
    );
    let r = one(lab.on_lan(
        A,
        &from_a(
            "INVITE",
            "sip:*01@example.com",
            "<sip:*01@example.com>",
            "late",
        ),
    ));
    assert_eq!(r.status(), Some(302));
    lab.advance(21_000);
    let before = lab.proxy.counters().dropped(DropReason::Plugin);
    let acks = lab.on_lan(
        A,
        &from_a(
            "ACK",
            "sip:*01@example.com",
            "<sip:*01@example.com>",
            "late",
        ),
    );
    assert!(acks.is_empty(), "{acks:?}");
    assert_eq!(
        lab.proxy.counters().dropped(DropReason::Plugin),
        before + 1,
        "shortdial itself dropped it"
    );
}

#[test]
fn prefix_redirects_an_outgoing_call_once() {
    let mut lab = lab_with(
        &["prefix"],
        PluginConfig {
            plugin_prefix_akey: Some("0".into()),
            ..PluginConfig::default()
        },
    );
    let r = one(lab.on_lan(
        A,
        &from_a(
            "INVITE",
            "sip:301234@example.com",
            "<sip:301234@example.com>",
            "px1",
        ),
    ));
    redirect_to_a(&r, "sip:0301234@example.com;redirected=prefix");
    let acks = lab.on_lan(
        A,
        &from_a(
            "ACK",
            "sip:301234@example.com",
            "<sip:301234@example.com>",
            "px1",
        ),
    );
    assert!(
        acks.is_empty(),
        "ACK swallowed by the redirect cache: {acks:?}"
    );
    // The phone follows the redirect: the marked INVITE goes out unchanged.
    let f = one(lab.on_lan(
        A,
        &from_a(
            "INVITE",
            "sip:0301234@example.com;redirected=prefix",
            "<sip:301234@example.com>",
            "px2",
        ),
    ));
    assert_eq!(
        f.first_line(),
        "INVITE sip:0301234@example.com;redirected=prefix SIP/2.0"
    );
    assert_eq!(f.to, sa(PROVIDER));
}

fn regex_lab(desc: &str, pattern: &str, replace: &str) -> Lab {
    lab_with(
        &["regex"],
        PluginConfig {
            plugin_regex_desc: vec!["never".into(), desc.into()],
            plugin_regex_pattern: vec!["^sip:999".into(), pattern.into()],
            plugin_regex_replace: vec!["sip:nobody@h".into(), replace.into()],
            ..PluginConfig::default()
        },
    )
}

#[test]
fn regex_with_groups_redirects_to_the_rewritten_uri() {
    let mut lab = regex_lab("national", "^sip:0([1-9][0-9]*)@(.*)$", "sip:+49\\1@\\2");
    let r = one(lab.on_lan(
        A,
        &from_a(
            "INVITE",
            "sip:0301234@example.com",
            "<sip:0301234@example.com>",
            "rx1",
        ),
    ));
    redirect_to_a(&r, "sip:+49301234@example.com;redirected=regex");
    assert!(lab
        .on_lan(
            A,
            &from_a(
                "ACK",
                "sip:0301234@example.com",
                "<sip:0301234@example.com>",
                "rx1"
            )
        )
        .is_empty());
    // The new call is marked: it goes out, not redirected again.
    let f = one(lab.on_lan(
        A,
        &from_a(
            "INVITE",
            "sip:+49301234@example.com;redirected=regex",
            "<sip:0301234@example.com>",
            "rx2",
        ),
    ));
    assert_eq!(f.to, sa(PROVIDER));
    assert_eq!(
        f.first_line(),
        "INVITE sip:+49301234@example.com;redirected=regex SIP/2.0"
    );
    // A number no rule matches is not touched.
    let f = one(lab.on_lan(
        A,
        &from_a(
            "INVITE",
            "sip:bob@example.com",
            "<sip:bob@example.com>",
            "rx3",
        ),
    ));
    assert_eq!(f.first_line(), "INVITE sip:bob@example.com SIP/2.0");
}

#[test]
fn regex_without_groups_replaces_every_occurrence() {
    let mut lab = regex_lab("host", "old\\.example", "other.net");
    let r = one(lab.on_lan(
        A,
        &from_a(
            "INVITE",
            "sip:bob@old.example",
            "<sip:bob@OLD.example;maddr=old.example>",
            "rx4",
        ),
    ));
    redirect_to_a(&r, "sip:bob@other.net;maddr=other.net;redirected=regex");
}

#[test]
fn routing_plugins_leave_calls_from_the_internet_alone() {
    let mut lab = lab_with(
        &["shortdial", "prefix", "regex"],
        PluginConfig {
            plugin_shortdial_akey: Some("*00".into()),
            plugin_shortdial_entry: vec!["100".into()],
            plugin_prefix_akey: Some("0".into()),
            plugin_regex_desc: vec!["all".into()],
            plugin_regex_pattern: vec!["^sip:".into()],
            plugin_regex_replace: vec!["sip:x".into()],
            ..PluginConfig::default()
        },
    );
    // An incoming call for alice reaches her.
    let f = one(lab.on_wan(
        PROVIDER,
        &from_provider(
            "INVITE",
            "sip:alice@203.0.113.5",
            "<sip:alice@example.com>",
            "in1",
        ),
    ));
    assert_eq!(f.to, sa(A));
    assert_eq!(f.first_line(), "INVITE sip:alice@192.168.1.10:5060 SIP/2.0");
}

fn defaulttarget_lab(log: i64) -> Lab {
    lab_with(
        &["defaulttarget"],
        PluginConfig {
            plugin_defaulttarget_target: Some("sip:100@192.168.1.20".into()),
            plugin_defaulttarget_log: log,
            ..PluginConfig::default()
        },
    )
}

#[test]
fn defaulttarget_sends_an_invite_to_an_unknown_user_to_the_target() {
    for log in [0, 1] {
        let mut lab = defaulttarget_lab(log);
        let r = one(lab.on_wan(
            PROVIDER,
            &from_provider(
                "INVITE",
                "sip:nobody@203.0.113.5",
                "<sip:nobody@example.com>",
                "dt1",
            ),
        ));
        assert_eq!(r.first_line(), "SIP/2.0 302 Moved Temporarily");
        assert_eq!(r.to, sa(PROVIDER));
        assert_eq!(r.from, ip(O));
        assert_eq!(r.headers("Contact"), vec!["<sip:100@192.168.1.20>"]);
        let acks = lab.on_wan(
            PROVIDER,
            &from_provider(
                "ACK",
                "sip:nobody@203.0.113.5",
                "<sip:nobody@example.com>",
                "dt1",
            ),
        );
        assert!(acks.is_empty(), "{acks:?}");
    }
}

#[test]
fn defaulttarget_swallows_any_ack_of_unknown_direction_and_leaves_known_calls() {
    let mut lab = defaulttarget_lab(0);
    let before = lab.proxy.counters().dropped(DropReason::Plugin);
    let acks = lab.on_wan(
        PROVIDER,
        &from_provider(
            "ACK",
            "sip:nobody@203.0.113.5",
            "<sip:nobody@example.com>",
            "dt2",
        ),
    );
    assert!(acks.is_empty());
    assert_eq!(lab.proxy.counters().dropped(DropReason::Plugin), before + 1);
    // Another method of unknown direction still gets the 408.
    let r = one(lab.on_wan(
        PROVIDER,
        &from_provider(
            "MESSAGE",
            "sip:nobody@203.0.113.5",
            "<sip:nobody@example.com>",
            "dt3",
        ),
    ));
    assert_eq!(r.status(), Some(408));
    // A call for alice reaches her.
    let f = one(lab.on_wan(
        PROVIDER,
        &from_provider(
            "INVITE",
            "sip:alice@203.0.113.5",
            "<sip:alice@example.com>",
            "dt4",
        ),
    ));
    assert_eq!(f.to, sa(A));
}

fn trunk_lab() -> Lab {
    lab_with(
        &["siptrunk"],
        PluginConfig {
            plugin_siptrunk_name: vec!["other".into(), "office".into()],
            plugin_siptrunk_account: vec![
                "sip:pbx@example.com".into(),
                "sip:alice@example.com".into(),
            ],
            plugin_siptrunk_numbers_regex: vec!["^\\+?4940".into(), "^\\+?4930555[0-9]+$".into()],
            ..PluginConfig::default()
        },
    )
}

#[test]
fn siptrunk_routes_an_unregistered_number_to_the_trunk_registration() {
    let mut lab = trunk_lab();
    let f = one(lab.on_wan(
        PROVIDER,
        &from_provider(
            "INVITE",
            "sip:+49305551@203.0.113.5",
            "<sip:+49305551@example.com>",
            "tr1",
        ),
    ));
    assert_eq!(f.to, sa(A), "to alice's contact");
    assert_eq!(f.from, ip(I), "from the LAN address");
    assert_eq!(
        f.first_line(),
        "INVITE sip:+49305551@203.0.113.5 SIP/2.0",
        "the dialled number is kept"
    );
    let vias = f.headers("Via");
    assert!(
        vias[0].starts_with("SIP/2.0/UDP 192.168.1.1:5060;branch=z9hG4bK"),
        "{vias:?}"
    );
    assert_eq!(
        f.headers("Record-Route"),
        vec!["<sip:siproxd@192.168.1.1:5060;lr>"],
        "handled as an incoming request"
    );
    // The phone's answer goes back to the provider.
    let branch = f.msg().top_via().unwrap().branch().unwrap().to_vec();
    let ringing = format!(
        "SIP/2.0 180 Ringing\nVia: SIP/2.0/UDP 192.168.1.1:5060;branch={}\nVia: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bKtr1INVITE\nFrom: <sip:+4989123@example.com>;tag=p1\nTo: <sip:+49305551@example.com>;tag=x\nCall-ID: tr1@198.51.100.20\nCSeq: 1 INVITE\nContent-Length: 0\n\n",
        String::from_utf8_lossy(&branch)
    );
    let back = one(lab.on_lan(A, &ringing));
    assert_eq!(back.status(), Some(180));
    assert_eq!(back.to, sa(PROVIDER));
    assert_eq!(back.from, ip(O));
}

#[test]
fn siptrunk_without_the_registration_or_the_number_answers_408() {
    let mut lab = trunk_lab();
    // The first matching trunk's account is not registered.
    let r = one(lab.on_wan(
        PROVIDER,
        &from_provider(
            "INVITE",
            "sip:+49401@203.0.113.5",
            "<sip:+49401@example.com>",
            "tr2",
        ),
    ));
    assert_eq!(r.status(), Some(408));
    // No trunk serves the number.
    let r = one(lab.on_wan(
        PROVIDER,
        &from_provider(
            "INVITE",
            "sip:+4989@203.0.113.5",
            "<sip:+4989@example.com>",
            "tr3",
        ),
    ));
    assert_eq!(r.status(), Some(408));
    // After alice's registration expired, the trunk number is unknown again.
    lab.advance(3_601_000);
    let r = one(lab.on_wan(
        PROVIDER,
        &from_provider(
            "INVITE",
            "sip:+49305551@203.0.113.5",
            "<sip:+49305551@example.com>",
            "tr4",
        ),
    ));
    assert_eq!(r.status(), Some(408));
}

/// A plugin routing every INVITE itself at "determine target" (`Decision::Forward` without a
/// registration: towards the Internet), to check the pipeline carries the route out.
#[derive(Debug)]
struct RouteAll(siproxd_rs::proxy::Hop);

impl siproxd_rs::plugins::Plugin for RouteAll {
    fn name(&self) -> &'static str {
        "route_all"
    }
    fn determine_target(
        &mut self,
        ctx: &siproxd_rs::plugins::Ctx<'_, '_>,
    ) -> siproxd_rs::plugins::Decision<'_> {
        if ctx.msg.method() != Some(b"INVITE") {
            return siproxd_rs::plugins::Decision::Continue;
        }
        siproxd_rs::plugins::Decision::Forward {
            request_uri: Some("sip:gateway@other.net"),
            hop: Some(&self.0),
            lan_slot: None,
        }
    }
}

#[test]
fn a_route_a_plugin_chose_at_determine_target_is_followed() {
    let mut lab = Lab::new();
    lab.proxy
        .set_plugins(vec![Box::new(RouteAll(siproxd_rs::proxy::Hop {
            host: "198.51.100.23".into(),
            port: Some(5070),
            transport: None,
        }))]);
    lab.register_alice(3600);
    let f = one(lab.on_lan(
        A,
        &from_a(
            "INVITE",
            "sip:bob@example.com",
            "<sip:bob@example.com>",
            "ra1",
        ),
    ));
    assert_eq!(f.to, sa("198.51.100.23:5070"), "the plugin's next hop");
    assert_eq!(f.from, ip(O), "towards the Internet");
    assert_eq!(f.first_line(), "INVITE sip:gateway@other.net SIP/2.0");
    assert_eq!(
        f.headers("Contact"),
        vec!["<sip:alice@203.0.113.5>"],
        "masqueraded as any outgoing request"
    );
    // Other requests are routed as usual.
    let f = one(lab.on_lan(
        A,
        &from_a(
            "MESSAGE",
            "sip:bob@example.com",
            "<sip:bob@example.com>",
            "ra2",
        ),
    ));
    assert_eq!(f.to, sa(PROVIDER));
}

#[test]
fn all_routing_plugins_at_once() {
    // Both defaulttarget and siptrunk act on calls of unknown direction, in load order: here
    // siptrunk first, so the trunk's numbers are not swallowed by the default target.
    let mut lab = lab_with(
        &["shortdial", "siptrunk", "prefix", "regex", "defaulttarget"],
        PluginConfig {
            plugin_shortdial_akey: Some("*00".into()),
            plugin_shortdial_entry: vec!["100".into()],
            plugin_prefix_akey: Some("0".into()),
            plugin_regex_desc: vec!["intl".into()],
            plugin_regex_pattern: vec!["^sip:00".into()],
            plugin_regex_replace: vec!["sip:+".into()],
            plugin_defaulttarget_target: Some("sip:100@192.168.1.20".into()),
            plugin_siptrunk_name: vec!["office".into()],
            plugin_siptrunk_account: vec!["sip:alice@example.com".into()],
            plugin_siptrunk_numbers_regex: vec!["^4930555".into()],
            ..PluginConfig::default()
        },
    );
    // shortdial runs first and answers; prefix never sees the short code.
    let r = one(lab.on_lan(
        A,
        &from_a(
            "INVITE",
            "sip:*01@example.com",
            "<sip:*01@example.com>",
            "all1",
        ),
    ));
    redirect_to_a(&r, "sip:100@example.com");
    // Then prefix answers before regex.
    let r = one(lab.on_lan(
        A,
        &from_a(
            "INVITE",
            "sip:0041@example.com",
            "<sip:0041@example.com>",
            "all2",
        ),
    ));
    redirect_to_a(&r, "sip:00041@example.com;redirected=prefix");
    // The trunk's number reaches alice (siptrunk is loaded before defaulttarget).
    let f = one(lab.on_wan(
        PROVIDER,
        &from_provider(
            "INVITE",
            "sip:4930555@203.0.113.5",
            "<sip:4930555@example.com>",
            "all3",
        ),
    ));
    assert_eq!(f.to, sa(A));
    // Any other unknown call goes to the default target.
    let r = one(lab.on_wan(
        PROVIDER,
        &from_provider(
            "INVITE",
            "sip:nobody@203.0.113.5",
            "<sip:nobody@example.com>",
            "all4",
        ),
    ));
    assert_eq!(r.headers("Contact"), vec!["<sip:100@192.168.1.20>"]);
    // A call for alice is not touched by any of them.
    let f = one(lab.on_wan(
        PROVIDER,
        &from_provider(
            "INVITE",
            "sip:alice@203.0.113.5",
            "<sip:alice@example.com>",
            "all5",
        ),
    ));
    assert_eq!(f.first_line(), "INVITE sip:alice@192.168.1.10:5060 SIP/2.0");
}
