//! Security regressions found in review: WAN registration (open relay), AOR hijack with
//! another user's credentials, replay of captured credentials from another host.
mod lab;
use lab::*;

use md5::{Digest, Md5};
use siproxd_rs::auth::{Authenticator, PasswordFile};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
fn md5(s: &str) -> String {
    hex(&Md5::digest(s.as_bytes()))
}
const ATTACKER: &str = "198.51.100.66:5060";

fn reg_here(via: &str, user: &str, contact: &str, auth: &str) -> String {
    let auth = if auth.is_empty() {
        String::new()
    } else {
        format!("Proxy-Authorization: {auth}\n")
    };
    format!("REGISTER sip:203.0.113.5 SIP/2.0\nVia: SIP/2.0/UDP {via};branch=z9hG4bKr{user}\nMax-Forwards: 70\nFrom: <sip:{user}@203.0.113.5>;tag=r1\nTo: <sip:{user}@203.0.113.5>\nCall-ID: r-{user}@x\nCSeq: 1 REGISTER\nContact: <{contact}>\n{auth}Content-Length: 0\n\n")
}

/// Default ACLs, registrar mode, no auth: a WAN host registers, and its INVITEs then leave as
/// "outgoing" calls from the router's public address (open relay / toll fraud).
#[test]
fn wan_host_registers_and_gets_its_calls_masqueraded() {
    let mut lab = Lab::new();
    let out = lab.on_wan(
        ATTACKER,
        &reg_here(ATTACKER, "mallory", "sip:mallory@198.51.100.66:5060", ""),
    );
    assert_eq!(out.len(), 1);
    assert_ne!(
        out[0].status(),
        Some(200),
        "WAN host registered at the proxy: {}",
        out[0].text
    );
}

#[test]
fn wan_host_call_is_relayed_after_registering() {
    let mut lab = Lab::new();
    lab.on_wan(
        ATTACKER,
        &reg_here(ATTACKER, "mallory", "sip:mallory@198.51.100.66:5060", ""),
    );
    let inv = request(
        "INVITE sip:premium@198.51.100.20 SIP/2.0",
        "Via: SIP/2.0/UDP 198.51.100.66:5060;branch=z9hG4bKm1\nMax-Forwards: 70\nFrom: <sip:mallory@203.0.113.5>;tag=m1\nTo: <sip:premium@198.51.100.20>\nCall-ID: m1@x\nCSeq: 1 INVITE\nContact: <sip:mallory@198.51.100.66>\n",
        "",
    );
    let out = lab.on_wan(ATTACKER, &inv);
    let relayed: Vec<_> = out.iter().filter(|s| s.to == sa(PROVIDER)).collect();
    assert!(
        relayed.is_empty(),
        "WAN host's INVITE relayed to the provider: {out:?}"
    );
}

/// With a password file, user bob's valid credentials register alice's AOR.
#[test]
fn authenticated_user_registers_someone_elses_aor() {
    let mut lab = Lab::new();
    let (pw, _) = PasswordFile::parse("alice alicepw\nbob bobpw\n");
    let auth = Authenticator::new("r", [3; 32], None, Some(pw), false);
    let cfg = lab.proxy.config().clone();
    lab.proxy.reconfigure(cfg, Some(auth));
    let r = |authh: &str| {
        format!("REGISTER sip:192.168.1.1 SIP/2.0\nVia: SIP/2.0/UDP 192.168.1.77:5060;branch=z9hG4bKb\nMax-Forwards: 70\nFrom: <sip:alice@192.168.1.1>;tag=r1\nTo: <sip:alice@192.168.1.1>\nCall-ID: b@x\nCSeq: 1 REGISTER\nContact: <sip:evil@192.168.1.77>\n{authh}Content-Length: 0\n\n")
    };
    let ch = lab.on_lan("192.168.1.77:5060", &r(""));
    let v = ch[0].header("Proxy-Authenticate").unwrap();
    let nonce = v
        .split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let ha1 = md5("bob:r:bobpw");
    let ha2 = md5("REGISTER:sip:192.168.1.1");
    let resp = md5(&format!("{ha1}:{nonce}:{ha2}"));
    let h = format!("Proxy-Authorization: Digest username=\"bob\", realm=\"r\", nonce=\"{nonce}\", uri=\"sip:192.168.1.1\", response=\"{resp}\"\n");
    let out = lab.on_lan("192.168.1.77:5060", &r(&h));
    assert_ne!(
        out[0].status(),
        Some(200),
        "bob's credentials bound a contact to alice: {}",
        out[0].text
    );
}

/// A captured Proxy-Authorization is accepted again, from another host, with another Contact,
/// for the whole 300 s lifetime (no nc/nonce replay check, nonce not bound to the source).
#[test]
fn captured_credentials_replay_from_another_host() {
    let mut lab = Lab::new();
    let auth = Authenticator::new("r", [3; 32], Some("pw"), None, false);
    let cfg = lab.proxy.config().clone();
    lab.proxy.reconfigure(cfg, Some(auth));
    let r = |src: &str, contact: &str, authh: &str| {
        format!("REGISTER sip:192.168.1.1 SIP/2.0\nVia: SIP/2.0/UDP {src};branch=z9hG4bKb{}\nMax-Forwards: 70\nFrom: <sip:alice@192.168.1.1>;tag=r1\nTo: <sip:alice@192.168.1.1>\nCall-ID: b@x\nCSeq: 1 REGISTER\nContact: <{contact}>\n{authh}Content-Length: 0\n\n", contact.len() + authh.len())
    };
    let ch = lab.on_lan(A, &r(A, "sip:alice@192.168.1.10", ""));
    let v = ch[0].header("Proxy-Authenticate").unwrap();
    let nonce = v
        .split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let resp = md5(&format!(
        "{}:{nonce}:00000001:c:auth:{}",
        md5("alice:r:pw"),
        md5("REGISTER:sip:192.168.1.1")
    ));
    let h = format!("Proxy-Authorization: Digest username=\"alice\", realm=\"r\", nonce=\"{nonce}\", uri=\"sip:192.168.1.1\", response=\"{resp}\", qop=auth, nc=00000001, cnonce=\"c\"\n");
    assert_eq!(
        lab.on_lan(A, &r(A, "sip:alice@192.168.1.10", &h))[0].status(),
        Some(200)
    );
    lab.now += 200_000;
    let out = lab.on_lan(
        "192.168.1.77:5060",
        &r("192.168.1.77:5060", "sip:evil@192.168.1.77", &h),
    );
    assert_ne!(
        out[0].status(),
        Some(200),
        "replayed credentials (same nc) accepted from another host"
    );
}
