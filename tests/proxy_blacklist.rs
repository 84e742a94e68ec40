//! plugin_blacklist and `wan_request_rate_limit` through the core with a virtual clock
//! (behaviour §8.2, decisions §5 and §3): failed registrations block the source, a blocked source
//! gets no answer and takes no slot, silence unblocks it, simulate only watches, manual
//! entries block at once, and a WAN flood is cut to the limit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // tests: a failed step panics, as a test should
mod lab;
use lab::*;

use siproxd_rs::auth::Authenticator;
use siproxd_rs::config::Config;
use siproxd_rs::plugins::blacklist::Manual;
use siproxd_rs::proxy::DropReason;

const SCANNER: &str = "198.51.100.66:5070";

fn config(extra: impl FnOnce(&mut Config)) -> Config {
    let mut cfg = Lab::config();
    cfg.load_plugin = vec!["blacklist".into()];
    // Registrar mode from the Internet side: the scanner's REGISTERs reach the authenticator.
    cfg.hosts_allow_reg = siproxd_rs::acl::AclList::parse("198.51.100.0/24,192.168.1.0/24").ok();
    extra(&mut cfg);
    cfg
}

/// A lab whose proxy is the registrar with password `secret` (realm `testrealm`).
fn registrar(extra: impl FnOnce(&mut Config)) -> Lab {
    let cfg = config(extra);
    let mut lab = Lab::with(cfg.clone());
    let auth = Authenticator::new("testrealm", [9; 32], Some("secret"), None, false);
    lab.proxy.reconfigure(cfg, Some(auth));
    lab
}

/// A registrar-mode REGISTER from `src` to the WAN address with a (wrong) digest answer.
fn guess(src: &str, n: u32) -> String {
    format!(
        "REGISTER sip:203.0.113.5 SIP/2.0\nVia: SIP/2.0/UDP {src};branch=z9hG4bKg{n}\nMax-Forwards: 70\n\
         From: <sip:100@203.0.113.5>;tag=s{n}\nTo: <sip:100@203.0.113.5>\nCall-ID: scan{n}@x\n\
         CSeq: {n} REGISTER\nContact: <sip:100@{src}>\n\
         Proxy-Authorization: Digest username=\"100\", realm=\"testrealm\", nonce=\"0000\", \
         uri=\"sip:203.0.113.5\", response=\"{n:032x}\"\nContent-Length: 0\n\n"
    )
}

fn invite(src: &str) -> String {
    request(
        "INVITE sip:alice@203.0.113.5 SIP/2.0",
        &format!(
            "Via: SIP/2.0/UDP {src};branch=z9hG4bKi1\nMax-Forwards: 70\nFrom: <sip:x@198.51.100.66>;tag=i1\n\
             To: <sip:alice@203.0.113.5>\nCall-ID: inv1@x\nCSeq: 1 INVITE\nContact: <sip:x@{src}>\n"
        ),
        &sdp("198.51.100.66", 40000),
    )
}

fn blocked_drops(lab: &Lab) -> u64 {
    lab.proxy.counters().dropped(DropReason::Blacklisted)
}

#[test]
fn eleven_failed_registers_block_the_source_which_then_gets_no_answer_and_no_slot() {
    let mut lab = registrar(|_| {});
    for n in 1..=11 {
        let out = lab.on_wan(SCANNER, &guess(SCANNER, n));
        assert_eq!(out.len(), 1, "attempt {n} answered");
        assert_eq!(out[0].status(), Some(403), "{}", out[0].text);
    }
    assert_eq!(blocked_drops(&lab), 0);
    // Blocked now: nothing answered, nothing stored, no relay slot opened.
    assert!(lab.on_wan(SCANNER, &guess(SCANNER, 12)).is_empty());
    assert!(lab.on_wan(SCANNER, &invite(SCANNER)).is_empty());
    assert!(lab
        .deliver_bytes(SCANNER, O, b"garbage that never parses")
        .is_empty());
    assert_eq!(blocked_drops(&lab), 3);
    assert!(lab.proxy.registry().is_empty());
    assert_eq!(lab.media.table.len(), 0);
    let e = lab
        .proxy
        .blacklist()
        .unwrap()
        .entries()
        .next()
        .copied()
        .unwrap();
    assert!(e.blocked);
    assert_eq!((e.failures, e.dropped), (11, 3));
    // Another source is served as before.
    let other = lab.on_wan("198.51.100.67:5060", &guess("198.51.100.67:5060", 1));
    assert_eq!(other.len(), 1);
}

#[test]
fn after_duration_of_silence_the_source_is_unblocked_and_every_packet_restarts_it() {
    let mut lab = registrar(|c| c.plugins.plugin_blacklist_duration = 60);
    for n in 1..=11 {
        lab.on_wan(SCANNER, &guess(SCANNER, n));
    }
    lab.advance(50_000);
    assert!(lab.on_wan(SCANNER, &guess(SCANNER, 12)).is_empty(), "50 s");
    lab.advance(50_000);
    assert!(
        lab.on_wan(SCANNER, &guess(SCANNER, 13)).is_empty(),
        "100 s after the block, but only 50 s of silence"
    );
    // 60 s of silence: the timer (the proxy's own deadline) unblocks it.
    lab.advance(60_000);
    assert!(lab.proxy.blacklist().unwrap().entries().next().is_none());
    assert_eq!(lab.on_wan(SCANNER, &guess(SCANNER, 14)).len(), 1);
}

#[test]
fn simulate_only_logs_and_the_source_keeps_being_answered() {
    let mut lab = registrar(|c| c.plugins.plugin_blacklist_simulate = 1);
    for n in 1..=15 {
        assert_eq!(
            lab.on_wan(SCANNER, &guess(SCANNER, n)).len(),
            1,
            "attempt {n}"
        );
    }
    assert!(
        lab.proxy
            .blacklist()
            .unwrap()
            .entries()
            .next()
            .unwrap()
            .blocked
    );
    assert_eq!(blocked_drops(&lab), 0);
}

#[test]
fn a_successful_registration_clears_the_failures() {
    use md5::{Digest, Md5};
    let hex = |s: &str| -> String {
        Md5::digest(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let mut lab = registrar(|c| c.plugins.plugin_blacklist_hitcount = 2);
    for n in 1..=2 {
        lab.on_lan(A, &guess(A, n));
    }
    let failures = |lab: &Lab| {
        lab.proxy
            .blacklist()
            .unwrap()
            .entries()
            .next()
            .map(|e| e.failures)
    };
    assert_eq!(failures(&lab), Some(2));
    // The phone gets it right: challenged, then answered correctly.
    let ch = lab.on_lan(A, &guess(A, 3).replace("Proxy-Authorization", "X-Not-Auth"));
    assert_eq!(ch[0].status(), Some(407));
    let www = ch[0].header("Proxy-Authenticate").unwrap();
    let nonce = www
        .split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let ha1 = hex("100:testrealm:secret");
    let ha2 = hex("REGISTER:sip:203.0.113.5");
    let right = format!(
        "Digest username=\"100\", realm=\"testrealm\", nonce=\"{nonce}\", uri=\"sip:203.0.113.5\", response=\"{}\"",
        hex(&format!("{ha1}:{nonce}:{ha2}"))
    );
    let good = guess(A, 4);
    let start = good.find("Proxy-Authorization").unwrap();
    let end = start + good[start..].find('\n').unwrap();
    let good = format!(
        "{}Proxy-Authorization: {right}{}",
        &good[..start],
        &good[end..]
    );
    assert_eq!(lab.on_lan(A, &good)[0].status(), Some(200));
    assert_eq!(failures(&lab), None, "cleared");
    // So two more failures do not block.
    for n in 5..=6 {
        assert_eq!(lab.on_lan(A, &guess(A, n)).len(), 1);
    }
    assert_eq!(
        lab.on_lan(A, &guess(A, 7)).len(),
        1,
        "the third failure is still answered"
    );
    assert!(lab.on_lan(A, &guess(A, 8)).is_empty(), "then blocked");
}

#[test]
fn registrar_answers_to_a_phones_register_with_credentials_count_in_outbound_proxy_mode() {
    let cfg = config(|c| c.plugins.plugin_blacklist_hitcount = 2);
    let mut lab = Lab::with(cfg);
    let with_auth = "Authorization: Digest username=\"alice\", realm=\"example.com\", nonce=\"n\", uri=\"sip:example.com\", response=\"00\"\n";
    let answer = |lab: &mut Lab, extra: &str, code: &str| {
        let out = lab.on_lan(
            A,
            &register("sip:example.com", "<sip:alice@192.168.1.10:5060>", extra),
        );
        assert_eq!(out.len(), 1, "forwarded: {out:?}");
        let branch =
            String::from_utf8_lossy(out[0].msg().top_via().unwrap().branch().unwrap()).into_owned();
        let resp = format!(
            "SIP/2.0 {code}\nVia: SIP/2.0/UDP 203.0.113.5:5060;branch={branch}\n\
             Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKreg1\nFrom: <sip:alice@example.com>;tag=r1\n\
             To: <sip:alice@example.com>;tag=p1\nCall-ID: reg1@192.168.1.10\nCSeq: 1 REGISTER\nContent-Length: 0\n\n"
        );
        assert_eq!(lab.on_wan(PROVIDER, &resp).len(), 1, "answer forwarded");
    };
    // The unauthenticated first attempt's 401 does not count; wrong credentials do.
    answer(&mut lab, "", "401 Unauthorized");
    assert!(lab.proxy.blacklist().unwrap().entries().next().is_none());
    answer(&mut lab, with_auth, "403 Forbidden");
    answer(&mut lab, with_auth, "401 Unauthorized");
    answer(&mut lab, with_auth, "403 Forbidden");
    let out = lab.on_lan(
        A,
        &register(
            "sip:example.com",
            "<sip:alice@192.168.1.10:5060>",
            with_auth,
        ),
    );
    assert!(out.is_empty(), "blocked after 3 > hitcount 2: {out:?}");
}

#[test]
fn a_manual_entry_blocks_at_once_and_counts_its_drops() {
    let mut lab = Lab::with(config(|_| {}));
    assert_eq!(
        lab.on_wan(SCANNER, &invite(SCANNER)).len(),
        1,
        "served before"
    );
    lab.proxy.blacklist_mut().unwrap().set_manual(vec![Manual {
        ip: "198.51.100.0".parse().unwrap(),
        prefix: 24,
        dropped: 0,
    }]);
    assert!(lab.on_wan(SCANNER, &invite(SCANNER)).is_empty());
    assert_eq!(lab.proxy.blacklist().unwrap().manual()[0].dropped, 1);
    assert_eq!(blocked_drops(&lab), 1);
}

/// A blocked source keeps no TCP connection either: the shell asks at accept and closes it;
/// the refusal is counted with the other blacklisted drops. Other sources are admitted.
#[test]
fn a_blocked_source_is_refused_a_tcp_connection() {
    let mut lab = Lab::with(config(|_| {}));
    let scanner = SCANNER.parse().unwrap();
    assert!(
        lab.proxy.admits_connection(lab.now, scanner),
        "admitted before"
    );
    lab.proxy.blacklist_mut().unwrap().set_manual(vec![Manual {
        ip: "198.51.100.66".parse().unwrap(),
        prefix: 32,
        dropped: 0,
    }]);
    assert!(!lab.proxy.admits_connection(lab.now, scanner));
    let neighbour = "198.51.100.67:5070".parse().unwrap();
    assert!(lab.proxy.admits_connection(lab.now, neighbour));
    assert_eq!(blocked_drops(&lab), 1);
    assert_eq!(lab.proxy.blacklist().unwrap().manual()[0].dropped, 1);
}

fn options(n: u32) -> String {
    format!(
        "OPTIONS sip:203.0.113.5 SIP/2.0\nVia: SIP/2.0/UDP {SCANNER};branch=z9hG4bKo{n}\nMax-Forwards: 0\n\
         From: <sip:s@198.51.100.66>;tag=o{n}\nTo: <sip:203.0.113.5>\nCall-ID: opt{n}@x\nCSeq: 1 OPTIONS\n\
         Content-Length: 0\n\n"
    )
}

#[test]
fn a_wan_source_over_the_rate_limit_is_dropped_unparsed_and_counted() {
    let mut cfg = Lab::config();
    cfg.wan_request_rate_limit = 20;
    let mut lab = Lab::with(cfg);
    // 5000 requests/s for 2 s (5 per virtual millisecond).
    let mut answered = 0;
    for ms in 0..2000u32 {
        for k in 0..5 {
            answered += lab.on_wan(SCANNER, &options(ms * 5 + k)).len();
        }
        lab.now += 1;
    }
    // One second's burst, then 20 per second.
    assert!((40..=61).contains(&answered), "{answered} answered");
    let dropped = lab.proxy.counters().dropped(DropReason::RateLimited);
    assert_eq!(dropped as usize + answered, 10_000);
    // The LAN is not limited, and another WAN source has its own allowance.
    for n in 0..100 {
        let out = lab.on_lan(A, &options(n).replace(SCANNER, A));
        assert_eq!(out.len(), 1);
    }
    let other = lab.on_wan(
        "198.51.100.99:5060",
        &options(1).replace(SCANNER, "198.51.100.99:5060"),
    );
    assert_eq!(other.len(), 1);
}
