//! The `proxy_core` fuzz target's check as a property test that `cargo test` runs: random
//! sequences of messages from both sides, answers, raw datagrams, clock, DNS and WAN-address
//! steps through the whole core with the relay table; no panic, bounded outputs, and no LAN
//! address in what goes to the Internet beyond the phone's own lower Vias and the Call-ID.
//! The step decoder, the adapter and the leak check are the fuzz target's own
//! (`fuzz/fuzz_targets/common/proxy_sim`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test helpers and the fuzz simulation they share: a failed set-up panics

#[path = "../fuzz/fuzz_targets/common/proxy_sim/mod.rs"]
mod proxy_sim;

use proptest::collection::vec;
use proptest::prelude::*;
use siproxd_rs::sip::{Framing, Message};

use proxy_sim::leak::{self, check_wan_message, find_lan, Scope};
use proxy_sim::steps::{self, frame_step, Record, Sim, Step};

/// The seed scenarios of the fuzz target (hex, `#` comments), also its corpus seeds.
const SEEDS: [(&str, &str); 3] = [
    (
        "call_out",
        include_str!("../fuzz/seeds/proxy_core/call_out.hex"),
    ),
    (
        "call_in",
        include_str!("../fuzz/seeds/proxy_core/call_in.hex"),
    ),
    (
        "register_dns",
        include_str!("../fuzz/seeds/proxy_core/register_dns.hex"),
    ),
];

fn unhex(text: &str) -> Vec<u8> {
    let digits: String = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    assert!(digits.len().is_multiple_of(2), "odd number of hex digits");
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn seed(name: &str) -> Vec<u8> {
    let (_, text) = SEEDS.iter().find(|(n, _)| *n == name).expect("seed");
    unhex(text)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn what(r: &Record) -> String {
    match &r.step {
        Step::Message { what, .. } => what.clone(),
        other => format!("{other:?}"),
    }
}

// --- the leak check itself ---------------------------------------------------------------

const INVITE_OUT: &str = "INVITE sip:bob@198.51.100.30 SIP/2.0\r\n\
Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bKp1\r\n\
Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK1;rport=5060;received=192.168.1.10\r\n\
Max-Forwards: 69\r\n\
From: <sip:alice@example.com>;tag=t1\r\n\
To: <sip:bob@198.51.100.30>\r\n\
Call-ID: c1@192.168.1.10\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:alice@203.0.113.5:5060>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 113\r\n\
\r\n\
v=0\r\n\
o=- 1 1 IN IP4 203.0.113.5\r\n\
s=-\r\n\
c=IN IP4 203.0.113.5\r\n\
t=0 0\r\n\
m=audio 7070 RTP/AVP 0\r\n\
a=rtcp:7071\r\n";

fn fixed_length(msg: &str) -> String {
    let (head, body) = msg.split_once("\r\n\r\n").expect("head and body");
    let head: Vec<&str> = head
        .split("\r\n")
        .filter(|l| !l.starts_with("Content-Length"))
        .collect();
    format!(
        "{}\r\nContent-Length: {}\r\n\r\n{body}",
        head.join("\r\n"),
        body.len()
    )
}

#[test]
fn a_clean_message_passes_with_the_phones_via_and_call_id() {
    let msg = fixed_length(INVITE_OUT);
    assert!(Message::parse(msg.as_bytes(), Framing::Datagram).is_ok());
    assert_eq!(check_wan_message(msg.as_bytes(), Scope::Full, true), Ok(()));
}

#[test]
fn a_lan_contact_is_a_leak() {
    let msg = fixed_length(&INVITE_OUT.replace(
        "Contact: <sip:alice@203.0.113.5:5060>",
        "Contact: <sip:alice@192.168.1.10:5060>",
    ));
    let err = check_wan_message(msg.as_bytes(), Scope::Full, true).unwrap_err();
    assert!(err.contains("Contact"), "{err}");
    // The narrow scope looks at the proxy's own Via only.
    assert_eq!(
        check_wan_message(msg.as_bytes(), Scope::OwnVia, true),
        Ok(())
    );
}

#[test]
fn the_inbound_address_in_our_own_via_is_a_leak_in_every_scope() {
    let msg = fixed_length(&INVITE_OUT.replace(
        "Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bKp1",
        "Via: SIP/2.0/UDP 192.168.1.1:5060;branch=z9hG4bKp1",
    ));
    for scope in [Scope::Full, Scope::OwnVia] {
        let err = check_wan_message(msg.as_bytes(), scope, true).unwrap_err();
        assert!(err.contains("top) Via"), "{err}");
    }
}

#[test]
fn lan_addresses_in_sdp_are_leaks_when_the_relay_is_on() {
    for (from, to) in [
        ("c=IN IP4 203.0.113.5", "c=IN IP4 192.168.1.10"),
        ("o=- 1 1 IN IP4 203.0.113.5", "o=- 1 1 IN IP4 192.168.1.10"),
        ("a=rtcp:7071", "a=rtcp:7071 IN IP4 192.168.1.10"),
        (
            "a=rtcp:7071",
            "a=candidate:1 1 UDP 2130706431 192.168.1.10 4000 typ host",
        ),
    ] {
        let msg = fixed_length(&INVITE_OUT.replace(from, to));
        let err = check_wan_message(msg.as_bytes(), Scope::Full, true).unwrap_err();
        assert!(err.contains("body"), "{to}: {err}");
        // Relay off: SDP goes out as the phone wrote it, by design.
        assert_eq!(
            check_wan_message(msg.as_bytes(), Scope::Full, false),
            Ok(())
        );
    }
}

#[test]
fn a_response_keeping_the_proxys_inbound_via_is_a_leak() {
    let resp = "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 192.168.1.1:5060;branch=z9hG4bKq\r\n\
Via: SIP/2.0/UDP 198.51.100.30:5060;branch=z9hG4bKw\r\n\
From: <sip:bob@example.com>;tag=b\r\nTo: <sip:alice@example.com>;tag=a\r\n\
Call-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    let err = check_wan_message(resp.as_bytes(), Scope::Full, true).unwrap_err();
    assert!(err.contains("inbound"), "{err}");
    // A Via of another LAN host (a phone's, in a LAN-to-LAN dialog) is allowed.
    let other = resp.replace("192.168.1.1:5060", "192.168.1.10:5060");
    assert_eq!(
        check_wan_message(other.as_bytes(), Scope::Full, true),
        Ok(())
    );
    // And so is a LAN address only in the Call-ID.
    let cid = resp
        .replace("192.168.1.1:5060", "198.51.100.20:5060")
        .replace("Call-ID: x", "Call-ID: x@192.168.1.1");
    assert_eq!(check_wan_message(cid.as_bytes(), Scope::Full, true), Ok(()));
}

#[test]
fn a_message_that_does_not_parse_fails_the_check() {
    assert!(check_wan_message(b"INVITE nonsense\r\n\r\n", Scope::OwnVia, true).is_err());
}

#[test]
fn lan_addresses_are_found_as_addresses_and_sanitized_everywhere() {
    assert_eq!(find_lan(b"x 192.168.1.7 y"), Some(2));
    assert_eq!(find_lan(b"[::ffff:192.168.1.7]"), Some(8));
    assert_eq!(find_lan(b"10.192.168.1.7"), None);
    assert_eq!(find_lan(b"2192.168.1.7"), None);
    assert_eq!(find_lan(b"192.168.1.x 192.168.10.1"), None);
    let mut b = b"a192.168.1.5 192.168.1.192.168.1.9".to_vec();
    leak::sanitize(&mut b);
    assert_eq!(b, b"a192.168.9.5 192.168.9.192.168.9.9".to_vec());
}

// --- the simulation reaches the deep paths ----------------------------------------------

#[test]
fn seed_call_out_registers_relays_and_routes_answers_back() {
    let sim = steps::run(&seed("call_out"), 64);
    let r = &sim.records;
    assert_eq!(r.len(), 8, "{:#?}", r);
    // REGISTER forwarded to example.com, its Contact masqueraded.
    let reg: Vec<_> = r[0].to_wan().collect();
    assert_eq!(reg.len(), 1, "{:?}", r[0]);
    assert_eq!(reg[0].destination.to_string(), "198.51.100.20:5060");
    assert!(text(&reg[0].bytes).contains("Contact: <sip:alice@203.0.113.5>"));
    // The 200 goes back to the phone with its own Contact.
    let ok: Vec<_> = r[1].to_lan().collect();
    assert_eq!(ok.len(), 1, "{:?}", r[1]);
    assert_eq!(ok[0].destination.to_string(), "192.168.1.10:5060");
    assert!(text(&ok[0].bytes).contains("192.168.1.10:5060"));
    assert_eq!(sim.core().registrations(), 0, "expired by the last step");
    // The INVITE leaves with relay addresses in its SDP.
    let inv: Vec<_> = r[2].to_wan().collect();
    assert_eq!(inv.len(), 1, "{:?}", r[2]);
    let t = text(&inv[0].bytes);
    assert!(t.starts_with("INVITE sip:bob@198.51.100.30 SIP/2.0"), "{t}");
    assert!(t.contains("c=IN IP4 203.0.113.5"), "{t}");
    assert!(t.contains("m=audio 70"), "relay port: {t}");
    // B's 200 reaches the phone with the inbound address in its SDP.
    let ans: Vec<_> = r[3].to_lan().collect();
    assert_eq!(ans.len(), 1, "{:?}", r[3]);
    assert!(text(&ans[0].bytes).contains("c=IN IP4 192.168.1.1\r\n"));
    // ACK and BYE go to B, the 200 to the BYE comes back.
    for (i, method) in [(4, "ACK"), (5, "BYE")] {
        let out: Vec<_> = r[i].to_wan().collect();
        assert_eq!(out.len(), 1, "{}: {:?}", what(&r[i]), r[i]);
        assert!(text(&out[0].bytes).starts_with(method), "{:?}", out[0]);
        assert_eq!(out[0].destination.to_string(), "198.51.100.30:5060");
    }
    assert_eq!(r[6].to_lan().count(), 1, "{:?}", r[6]);
}

#[test]
fn seed_call_in_reaches_the_phone_and_its_answer_leaves_masqueraded() {
    let sim = steps::run(&seed("call_in"), 64);
    let r = &sim.records;
    assert_eq!(r.len(), 6, "{:#?}", r);
    assert_eq!(sim.core().registrations(), 1);
    // Registrar mode: answered at once, nothing leaves.
    assert_eq!(r[0].to_lan().count(), 1, "{:?}", r[0]);
    let inv: Vec<_> = r[1].to_lan().collect();
    assert_eq!(inv.len(), 1, "{:?}", r[1]);
    assert!(text(&inv[0].bytes).starts_with("INVITE sip:alice@192.168.1.10:5060"));
    // The phone's 200 goes to B with the public address everywhere and our User-Agent.
    let ok: Vec<_> = r[2].to_wan().collect();
    assert_eq!(ok.len(), 1, "{:?}", r[2]);
    let t = text(&ok[0].bytes);
    assert!(t.contains("User-Agent: siproxd-rs-fuzz/1"), "{t}");
    assert!(t.contains("c=IN IP4 203.0.113.5"), "{t}");
    assert!(t.contains("Contact: <sip:alice@example.com>"), "{t}");
    assert_eq!(check_wan_message(t.as_bytes(), Scope::Full, true), Ok(()));
    // ACK and BYE from B reach the phone, its 200 to the BYE goes back.
    assert_eq!(r[3].to_lan().count(), 1, "{:?}", r[3]);
    assert_eq!(r[4].to_lan().count(), 1, "{:?}", r[4]);
    assert_eq!(r[5].to_wan().count(), 1, "{:?}", r[5]);
}

#[test]
fn seed_register_dns_waits_for_the_nameserver() {
    let sim = steps::run(&seed("register_dns"), 64);
    let r = &sim.records;
    assert!(
        r[0].outputs.iter().any(|s| s.is_dns()),
        "a query first: {:?}",
        r[0]
    );
    let released = r
        .iter()
        .flat_map(|rec| rec.to_wan())
        .find(|s| text(&s.bytes).starts_with("REGISTER"));
    assert!(released.is_some(), "the REGISTER is sent after DNS: {r:#?}");
}

// --- proxy bugs found by the property (ignored while open) -------------------------------

/// Sends `text` to the core and returns what it sent.
fn deliver(
    core: &mut proxy_sim::adapter::Core,
    src: &str,
    local: &str,
    text: &str,
) -> Vec<proxy_sim::adapter::Sent> {
    core.message(
        1_000_000,
        src.parse().expect("source"),
        local.parse().expect("local"),
        text.as_bytes(),
    );
    core.drain(8).expect("bounded output").0
}

#[test]
fn sdp_outside_offer_answer_keeps_no_lan_candidate_or_rtcp_address() {
    use proxy_sim::adapter::{Core, Settings};
    let mut core = Core::new(&Settings::from_byte(0));
    let register = "REGISTER sip:192.168.1.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKr\r\n\
From: <sip:alice@example.com>;tag=t1\r\nTo: <sip:alice@example.com>\r\n\
Call-ID: r1\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@192.168.1.10:5060>\r\n\
Content-Length: 0\r\n\r\n";
    let out = deliver(&mut core, "192.168.1.10:5060", "192.168.1.1", register);
    assert_eq!(out.len(), 1, "registrar mode answers: {out:?}");
    // The phone answers an OPTIONS from B with its capabilities as SDP.
    let body = "v=0\r\no=- 1 1 IN IP4 192.168.1.10\r\ns=-\r\nc=IN IP4 192.168.1.10\r\n\
t=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtcp:4001 IN IP4 192.168.1.10\r\n\
a=candidate:1 1 UDP 2130706431 192.168.1.10 4000 typ host\r\n\
a=remote-candidates:1 192.168.1.20 4000\r\n";
    let answer = format!(
        "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 192.168.1.1:5060;branch=z9hG4bKp\r\n\
Via: SIP/2.0/UDP 198.51.100.30:5060;branch=z9hG4bKo\r\n\
From: <sip:bob@example.com>;tag=b1\r\nTo: <sip:alice@example.com>;tag=a1\r\n\
Call-ID: o1\r\nCSeq: 1 OPTIONS\r\nContact: <sip:alice@192.168.1.10:5060>\r\n\
Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let out = deliver(&mut core, "192.168.1.10:5060", "192.168.1.1", &answer);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].destination.to_string(), "198.51.100.30:5060");
    // o= and c= are masqueraded; the a=rtcp, candidate and remote-candidates lines are not.
    assert_eq!(
        check_wan_message(&out[0].bytes, Scope::Full, true),
        Ok(()),
        "{:?}",
        out[0]
    );
}

#[test]
fn a_second_own_route_is_not_left_in_a_request_to_the_internet() {
    use proxy_sim::adapter::{Core, Settings};
    let mut core = Core::new(&Settings::from_byte(0));
    let register = "REGISTER sip:192.168.1.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKr\r\n\
From: <sip:alice@example.com>;tag=t1\r\nTo: <sip:alice@example.com>\r\n\
Call-ID: r1\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@192.168.1.10:5060>\r\n\
Content-Length: 0\r\n\r\n";
    let out = deliver(&mut core, "192.168.1.10:5060", "192.168.1.1", register);
    assert_eq!(out.len(), 1, "registrar mode answers: {out:?}");
    // The route set of a dialog the proxy record-routed twice (a 200 that passed it with its
    // own Record-Route already in it gets a second one appended).
    let bye = "BYE sip:bob@198.51.100.30:5060 SIP/2.0\r\n\
Route: <sip:siproxd@192.168.1.1:5060;lr>, <sip:siproxd@192.168.1.1:5060;lr>\r\n\
Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKb\r\nMax-Forwards: 70\r\n\
From: <sip:alice@example.com>;tag=t1\r\nTo: <sip:bob@example.com>;tag=b1\r\n\
Call-ID: c1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
    let out = deliver(&mut core, "192.168.1.10:5060", "192.168.1.1", bye);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].destination.to_string(), "198.51.100.30:5060");
    assert_eq!(
        check_wan_message(&out[0].bytes, Scope::Full, true),
        Ok(()),
        "{:?}",
        out[0]
    );
}

// --- the property ------------------------------------------------------------------------

/// One step: an op and up to 40 bytes choosing its values; now and then raw bytes.
fn step() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        12 => (any::<u8>(), vec(any::<u8>(), 0..40)).prop_map(|(op, args)| {
            let mut s = vec![op];
            s.extend(args);
            frame_step(&s)
        }),
        1 => (any::<u8>(), vec(any::<u8>(), 0..700)).prop_map(|(mode, raw)| {
            let mut s = vec![14, mode & 1, 0];
            s.extend(raw);
            frame_step(&s)
        }),
    ]
}

/// Settings and up to 30 steps, after one of the seed scenarios or none.
fn input() -> impl Strategy<Value = Vec<u8>> {
    let prefix = prop_oneof![
        Just(None),
        Just(Some("call_out")),
        Just(Some("call_in")),
        Just(Some("register_dns")),
    ];
    (prefix, any::<u8>(), vec(step(), 0..30)).prop_map(|(prefix, settings, steps)| {
        let mut data = match prefix {
            Some(name) => seed(name),
            None => vec![settings],
        };
        for s in steps {
            data.extend(s);
        }
        data
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_lan_address_reaches_the_internet(data in input()) {
        // Panics (and so fails, shrinking the steps) when a check fails.
        let sim: Sim = steps::run(&data, 40);
        prop_assert!(sim.records.len() <= 40);
    }
}

/// How deep a fuzz corpus reaches: replays every input of `fuzz/corpus/proxy_core` (or
/// `PROXY_CORE_CORPUS`) and counts the kinds of messages the proxy sent.
#[test]
#[ignore = "reads the fuzz corpus, if any: cargo test --test proxy_core_props -- --ignored corpus"]
fn corpus_depth() {
    use std::collections::BTreeMap;
    let dir = std::env::var("PROXY_CORE_CORPUS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/proxy_core").into());
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("no corpus in {dir}");
        return;
    };
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut inputs = 0;
    for e in entries.flatten() {
        let Ok(data) = std::fs::read(e.path()) else {
            continue;
        };
        inputs += 1;
        let sim = steps::run(&data, 64);
        for r in &sim.records {
            for o in &r.outputs {
                let side = if o.is_dns() {
                    "DNS".to_string()
                } else if leak::is_lan(o.destination.ip()) {
                    "to LAN".to_string()
                } else {
                    "to WAN".to_string()
                };
                let first = text(&o.bytes)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .split(' ')
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ");
                let first = if o.is_dns() { String::new() } else { first };
                let first = if first.starts_with("SIP/2.0") {
                    first
                } else {
                    first.split(' ').next().unwrap_or("").to_string()
                };
                let sdp = if text(&o.bytes).contains("\r\nm=") {
                    " +SDP"
                } else {
                    ""
                };
                *kinds.entry(format!("{side} {first}{sdp}")).or_default() += 1;
            }
        }
    }
    println!("{inputs} inputs");
    for (k, n) in kinds {
        println!("{n:>8}  {k}");
    }
}

#[test]
#[ignore = "prints a seed's steps and outputs: PROXY_CORE_SEED=name"]
fn print_seed() {
    let name = std::env::var("PROXY_CORE_SEED").unwrap_or_else(|_| "call_out".into());
    let sim = steps::run(&seed(&name), 64);
    for (i, r) in sim.records.iter().enumerate() {
        println!("=== step {i}: {:#?}", r.step);
        for o in &r.outputs {
            println!("--- {o:?}");
        }
    }
}
