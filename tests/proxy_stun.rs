//! plugin_stun through the sans-IO proxy core (behaviour §8.2) with the §11 lab
//! and a virtual clock: the Binding request leaves from the outbound address to the resolved
//! server, is retried every 10 s until answered and then every `plugin_stun_period`; only the
//! answer from the server with the transaction id is taken, and the address it names becomes
//! the public one of Via, Contact and SDP (and is ours in Route and Record-Route),
//! registrations included.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // tests: a failed set-up panics, as a test should
mod lab;
use lab::*;

use siproxd_rs::config::{Config, PluginConfig};
use siproxd_rs::plugins::stun::Client;
use siproxd_rs::proxy::DropReason;

const STUN: &str = "198.51.100.40:3478";

/// A lab whose proxy asks stun.example.com (198.51.100.40) every 300 s; A registered first.
fn lab() -> Lab {
    let cfg = Config {
        load_plugin: vec!["stun".into()],
        plugins: PluginConfig {
            plugin_stun_server: Some("stun.example.com".into()),
            plugin_stun_period: 300,
            ..PluginConfig::default()
        },
        ..Lab::config()
    };
    let mut lab = Lab::with_hosts(cfg.clone(), "198.51.100.40 stun.example.com\n");
    lab.register_alice(3600);
    lab.proxy
        .set_stun(Some(Client::from_config(&cfg, 99).unwrap()));
    lab
}

/// The Binding request among `out` (exactly one), checked: from O to the server.
fn binding_request(out: &[RawSent]) -> [u8; 16] {
    let reqs: Vec<&RawSent> = out.iter().filter(|r| r.to == sa(STUN)).collect();
    assert_eq!(reqs.len(), 1, "one Binding request: {out:?}");
    let r = reqs[0];
    assert_eq!(r.from, ip(O), "asked from the outbound (SIP) address");
    assert_eq!(r.bytes.len(), 20);
    assert_eq!(&r.bytes[..4], &[0, 1, 0, 0]);
    r.bytes[4..20].try_into().unwrap()
}

/// Runs due timers at `now + ms` and returns everything sent.
fn advance_raw(lab: &mut Lab, ms: u64) -> Vec<RawSent> {
    lab.now += ms;
    let mut out = lab.take_raw();
    if lab.deadline.is_some_and(|d| d <= lab.now) {
        lab.proxy.handle_timeout(lab.now);
        out.extend(lab.take_raw());
    }
    out
}

/// An RFC 5389 answer to `tx` naming `public` (XOR-MAPPED-ADDRESS).
fn xor_answer(tx: &[u8; 16], public: [u8; 4]) -> Vec<u8> {
    let mut a = vec![0x01, 0x01, 0, 12];
    a.extend_from_slice(tx);
    a.extend_from_slice(&[0x00, 0x20, 0, 8, 0, 1]);
    a.extend_from_slice(&(5060u16 ^ 0x2112).to_be_bytes());
    a.extend((0..4).map(|i| public[i] ^ tx[i]));
    a
}

fn invite_from_a(call: &str) -> String {
    request(
        "INVITE sip:bob@198.51.100.30:5060 SIP/2.0",
        &format!(
            "Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK{call}\nMax-Forwards: 70\n\
             From: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>\n\
             Call-ID: {call}@192.168.1.10\nCSeq: 1 INVITE\n\
             Contact: <sip:alice@192.168.1.10:5060>\nContent-Type: application/sdp\n"
        ),
        &sdp("192.168.1.10", 4000),
    )
}

#[test]
fn retried_every_10_s_until_answered_then_every_period() {
    let mut lab = lab();
    let t0 = lab.now;
    let tx1 = binding_request(&advance_raw(&mut lab, 0));
    assert_eq!(lab.deadline, Some(t0 + 10_000), "retry in 10 s");
    assert!(advance_raw(&mut lab, 9_999).is_empty());
    let tx2 = binding_request(&advance_raw(&mut lab, 1));
    assert_ne!(tx1, tx2, "each attempt has its own transaction id");
    assert_eq!(lab.deadline, Some(t0 + 20_000));

    // The answer to the first attempt comes late: not taken, not SIP.
    let late = xor_answer(&tx1, [203, 0, 113, 99]);
    assert!(lab.deliver_bytes(STUN, O, &late).is_empty());
    // The right answer from another host or port: not taken.
    let good = xor_answer(&tx2, [203, 0, 113, 99]);
    assert!(lab.deliver_bytes("198.51.100.41:3478", O, &good).is_empty());
    assert!(lab.deliver_bytes("198.51.100.40:3479", O, &good).is_empty());
    let c = lab.proxy.counters();
    assert_eq!(c.dropped(DropReason::Plugin), 3);
    assert_eq!(c.dropped(DropReason::Unparsable), 0, "never taken for SIP");
    assert_eq!(
        lab.proxy.public_address().unwrap(),
        ("203.0.113.5".to_string(), "interface", None)
    );

    lab.now += 500;
    assert!(lab.deliver_bytes(STUN, O, &good).is_empty());
    let answered = lab.now;
    assert_eq!(
        lab.proxy.public_address().unwrap(),
        ("203.0.113.99".to_string(), "stun", Some(answered))
    );
    assert_eq!(lab.deadline, Some(answered + 300_000), "then every period");
    assert!(advance_raw(&mut lab, 299_999).is_empty());
    binding_request(&advance_raw(&mut lab, 1));
}

#[test]
fn the_learned_address_names_the_proxy_towards_the_internet_and_moves_registrations() {
    let mut lab = lab();
    let tx = binding_request(&advance_raw(&mut lab, 0));
    assert!(lab
        .deliver_bytes(STUN, O, &xor_answer(&tx, [203, 0, 113, 99]))
        .is_empty());

    // A call out: Via, Contact, Record-Route and SDP carry the STUN address.
    let out = lab.on_lan(A, &invite_from_a("c1"));
    assert_eq!(out.len(), 1, "{out:?}");
    let inv = &out[0];
    assert_eq!(inv.from, ip(O), "sent from the interface address");
    let via = &inv.headers("Via")[0];
    assert!(via.starts_with("SIP/2.0/UDP 203.0.113.99:5060;"), "{via}");
    // Her registered contact (the registrar's 200 named no port), moved to the new address.
    assert_eq!(inv.headers("Contact"), ["<sip:alice@203.0.113.99>"]);
    assert!(
        inv.body().contains("c=IN IP4 203.0.113.99\r\n"),
        "{}",
        inv.body()
    );
    assert!(!inv.text.contains("203.0.113.5"), "{}", inv.text);

    // Its answer comes back to our Via on the STUN address: recognised as ours.
    let branch = inv.msg().top_via().unwrap().branch().unwrap().to_vec();
    let ringing = format!(
        "SIP/2.0 180 Ringing\nVia: SIP/2.0/UDP 203.0.113.99:5060;branch={}\n\
         Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKc1\nFrom: <sip:alice@example.com>;tag=a1\n\
         To: <sip:bob@example.com>;tag=b1\nCall-ID: c1@192.168.1.10\nCSeq: 1 INVITE\n\
         Content-Length: 0\n\n",
        String::from_utf8_lossy(&branch)
    );
    let back = lab.on_wan(B, &ringing);
    assert_eq!(back.len(), 1, "{back:?}");
    assert_eq!(back[0].to, sa(A));

    // So a call for sip:alice@203.0.113.99 reaches her; a Route naming the STUN address is
    // ours and goes.
    let incoming = request(
        "INVITE sip:alice@203.0.113.99 SIP/2.0",
        "Via: SIP/2.0/UDP 198.51.100.30:5062;branch=z9hG4bKin\nMax-Forwards: 70\n\
         Route: <sip:siproxd@203.0.113.99:5060;lr>\n\
         From: <sip:bob@198.51.100.30>;tag=b1\nTo: <sip:alice@example.com>\n\
         Call-ID: in@198.51.100.30\nCSeq: 1 INVITE\nContact: <sip:bob@198.51.100.30:5062>\n",
        "",
    );
    let out = lab.on_wan(B, &incoming);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].to, sa(A));
    assert!(out[0].headers("Route").is_empty(), "{:?}", out[0]);
}

#[test]
fn a_new_outbound_address_asks_again_at_once() {
    let mut lab = lab();
    let tx = binding_request(&advance_raw(&mut lab, 0));
    lab.deliver_bytes(STUN, O, &xor_answer(&tx, [203, 0, 113, 99]));
    assert_eq!(lab.deadline, Some(lab.now + 300_000));
    // A PPP reconnect: the interface has another address.
    lab.proxy.set_addresses(siproxd_rs::proxy::Addresses::new(
        ip(I),
        Some(ip("203.0.113.6")),
    ));
    lab.take_raw();
    assert!(
        lab.deadline.is_some_and(|d| d <= lab.now),
        "{:?}",
        lab.deadline
    );
    let out = advance_raw(&mut lab, 0);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!((out[0].from, out[0].to), (ip("203.0.113.6"), sa(STUN)));
    // Meanwhile the last learned address stays the public one.
    assert_eq!(lab.proxy.public_address().unwrap().0, "203.0.113.99");
}

#[test]
fn a_reload_with_the_same_server_keeps_the_address() {
    let mut lab = lab();
    let tx = binding_request(&advance_raw(&mut lab, 0));
    lab.deliver_bytes(STUN, O, &xor_answer(&tx, [203, 0, 113, 99]));
    let mut cfg = Lab::config();
    cfg.plugins.plugin_stun_server = Some("stun.example.com".into());
    cfg.plugins.plugin_stun_period = 300;
    lab.proxy
        .set_stun(Some(Client::from_config(&cfg, 5).unwrap()));
    assert_eq!(lab.proxy.public_address().unwrap().1, "stun");
    // Unloaded: back to the interface address.
    lab.proxy.set_stun(None);
    assert_eq!(
        lab.proxy.public_address().unwrap(),
        ("203.0.113.5".to_string(), "interface", None)
    );
}
