//! Digest proxy authentication of registrar-mode REGISTERs through the core (decisions §5):
//! challenge, MD5 and SHA-256 answers computed here as a client would, qop=auth with an
//! increasing nc, stale nonces and nonces from another boot, wrong credentials.
#![allow(clippy::expect_used)] // test helpers: a failed set-up panics, as a test should
mod lab;
use lab::*;

use md5::{Digest, Md5};
use sha2::Sha256;
use siproxd_rs::auth::Authenticator;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn h(sha: bool, s: &str) -> String {
    if sha {
        hex(&Sha256::digest(s.as_bytes()))
    } else {
        hex(&Md5::digest(s.as_bytes()))
    }
}

fn lab_with_auth(sha256: bool, key: u8) -> Lab {
    let mut lab = Lab::new();
    let auth = Authenticator::new("testrealm", [key; 32], Some("secret"), None, sha256);
    let cfg = lab.proxy.config().clone();
    lab.proxy.reconfigure(cfg, Some(auth));
    lab
}

/// A registrar-mode REGISTER (Request-URI = the proxy's inbound address).
fn reg(cseq: u32, auth_header: &str) -> String {
    let auth = header_line("Proxy-Authorization", auth_header);
    format!(
        "REGISTER sip:192.168.1.1 SIP/2.0\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKa{cseq}\nMax-Forwards: 70\nFrom: <sip:alice@foo.example>;tag=r1\nTo: <sip:alice@foo.example>\nCall-ID: auth1@192.168.1.10\nCSeq: {cseq} REGISTER\nContact: <sip:alice@192.168.1.10:5062>\n{auth}Content-Length: 0\n\n"
    )
}

/// The challenges of a 407: (algorithm, nonce, stale).
fn challenges(s: &Sent) -> Vec<(String, String, bool)> {
    assert_eq!(s.status(), Some(407), "{}", s.text);
    s.headers("Proxy-Authenticate")
        .iter()
        .map(|v| {
            let param = |name: &str| {
                v.split(',')
                    .map(str::trim)
                    .map(|p| p.trim_start_matches("Digest ").trim())
                    .find_map(|p| p.strip_prefix(&format!("{name}=")))
                    .map(|x| x.trim_matches('"').to_string())
            };
            (
                param("algorithm").unwrap_or_else(|| "MD5".into()),
                param("nonce").expect("nonce"),
                param("stale").as_deref() == Some("true"),
            )
        })
        .collect()
}

fn answer(sha: bool, nonce: &str, nc: Option<&str>, password: &str) -> String {
    let ha1 = h(sha, &format!("alice:testrealm:{password}"));
    let ha2 = h(sha, "REGISTER:sip:192.168.1.1");
    let alg = if sha { "SHA-256" } else { "MD5" };
    match nc {
        None => format!(
            "Digest username=\"alice\", realm=\"testrealm\", nonce=\"{nonce}\", uri=\"sip:192.168.1.1\", response=\"{}\", algorithm={alg}",
            h(sha, &format!("{ha1}:{nonce}:{ha2}"))
        ),
        Some(nc) => format!(
            "Digest username=\"alice\", realm=\"testrealm\", nonce=\"{nonce}\", uri=\"sip:192.168.1.1\", response=\"{}\", algorithm={alg}, qop=auth, nc={nc}, cnonce=\"c0ffee\"",
            h(sha, &format!("{ha1}:{nonce}:{nc}:c0ffee:auth:{ha2}"))
        ),
    }
}

#[test]
fn challenge_then_md5_answer_registers_and_wrong_password_gets_403() {
    let mut lab = lab_with_auth(false, 1);
    let out = lab.on_lan(A, &reg(1, ""));
    assert_eq!(out.len(), 1);
    let ch = challenges(&out[0]);
    assert_eq!(ch.len(), 1);
    assert_eq!(ch[0].0, "MD5");
    let nonce = ch[0].1.clone();
    let ok = lab.on_lan(A, &reg(2, &answer(false, &nonce, None, "secret")));
    assert_eq!(ok[0].status(), Some(200), "{}", ok[0].text);
    let bad = lab.on_lan(A, &reg(3, &answer(false, &nonce, None, "wrong")));
    assert_eq!(
        bad[0].status(),
        Some(403),
        "decisions §4: wrong credentials get 403"
    );
}

#[test]
fn sha256_challenge_is_answered_and_qop_auth_nc_increments_work() {
    let mut lab = lab_with_auth(true, 2);
    let out = lab.on_lan(A, &reg(1, ""));
    let ch = challenges(&out[0]);
    assert_eq!(
        ch.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
        ["SHA-256", "MD5"]
    );
    let nonce = ch[0].1.clone();
    for (i, nc) in ["00000001", "00000002", "00000003"].iter().enumerate() {
        let r = lab.on_lan(
            A,
            &reg(2 + i as u32, &answer(true, &nonce, Some(nc), "secret")),
        );
        assert_eq!(r[0].status(), Some(200), "nc={nc}: {}", r[0].text);
    }
    let md5 = lab.on_lan(
        A,
        &reg(9, &answer(false, &nonce, Some("00000004"), "secret")),
    );
    assert_eq!(md5[0].status(), Some(200));
}

#[test]
fn replayed_answer_with_expired_nonce_gets_407_stale_and_foreign_nonce_is_not_accepted() {
    let mut lab = lab_with_auth(false, 3);
    let nonce = challenges(&lab.on_lan(A, &reg(1, ""))[0])[0].1.clone();
    let creds = answer(false, &nonce, None, "secret");
    assert_eq!(lab.on_lan(A, &reg(2, &creds))[0].status(), Some(200));
    lab.advance(301_000);
    let replay = lab.on_lan(A, &reg(3, &creds));
    let ch = challenges(&replay[0]);
    assert!(ch[0].2, "stale=true expected: {}", replay[0].text);
    assert_ne!(ch[0].1, nonce, "a fresh nonce");

    // A nonce issued by another boot (another key) with the right password: challenged again.
    let mut other = lab_with_auth(false, 4);
    let foreign = challenges(&other.on_lan(A, &reg(1, ""))[0])[0].1.clone();
    let r = lab.on_lan(A, &reg(4, &answer(false, &foreign, None, "secret")));
    assert!(challenges(&r[0])[0].2, "{}", r[0].text);
}

#[test]
fn malformed_proxy_authorization_gets_400_and_never_panics() {
    let mut lab = lab_with_auth(false, 5);
    for bad in [
        "Digest",
        "Digest username=\"alice",
        "Basic YWxpY2U6c2VjcmV0",
        "Digest username=\"alice\", realm=\"testrealm\"",
    ] {
        let r = lab.on_lan(A, &reg(7, bad));
        assert_eq!(r.len(), 1, "{bad}");
        assert_eq!(r[0].status(), Some(400), "{bad}: {}", r[0].text);
    }
}

/// A qop-less MD5 answer for `user`, hashed over the digest `uri` the client chose.
fn answer_for(user: &str, uri: &str, nonce: &str, password: &str) -> String {
    let ha1 = h(false, &format!("{user}:testrealm:{password}"));
    let ha2 = h(false, &format!("REGISTER:{uri}"));
    format!(
        "Digest username=\"{user}\", realm=\"testrealm\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{}\", algorithm=MD5",
        h(false, &format!("{ha1}:{nonce}:{ha2}"))
    )
}

/// Issue 14: sipp's digest client (and real phones) hash `uri=sip:192.168.1.1:5060` for the
/// Request-URI `sip:192.168.1.1`. The same URI with the default port made explicit (or with
/// its host in another case) is the same request; another host, port or user is not.
#[test]
fn digest_uri_with_the_default_port_explicit_registers_and_other_uris_or_users_get_403() {
    let mut lab = lab_with_auth(false, 6);
    let nonce = challenges(&lab.on_lan(A, &reg(1, ""))[0])[0].1.clone();
    for (i, uri) in ["sip:192.168.1.1:5060", "SIP:192.168.1.1", "sip:192.168.1.1"]
        .iter()
        .enumerate()
    {
        let r = lab.on_lan(
            A,
            &reg(2 + i as u32, &answer_for("alice", uri, &nonce, "secret")),
        );
        assert_eq!(r[0].status(), Some(200), "uri {uri}: {}", r[0].text);
    }
    for (i, (user, uri)) in [
        ("alice", "sip:192.168.1.2"),
        ("alice", "sip:192.168.1.1:5070"),
        ("alice", "sip:192.168.1.1;transport=tcp"),
        ("alice", "sips:192.168.1.1"),
        ("bob", "sip:192.168.1.1:5060"),
    ]
    .iter()
    .enumerate()
    {
        let r = lab.on_lan(
            A,
            &reg(10 + i as u32, &answer_for(user, uri, &nonce, "secret")),
        );
        assert_eq!(r[0].status(), Some(403), "{user} {uri}: {}", r[0].text);
    }
    // The right URI with the wrong password is still refused.
    let r = lab.on_lan(
        A,
        &reg(
            20,
            &answer_for("alice", "sip:192.168.1.1:5060", &nonce, "wrong"),
        ),
    );
    assert_eq!(r[0].status(), Some(403), "{}", r[0].text);
}
