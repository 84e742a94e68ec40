//! LAN addresses that must not reach the WAN (review findings): disabled streams, multipart
//! SDP, sips: Contacts, SDP outside offer/answer.
#![allow(clippy::indexing_slicing)] // test helpers: a failed set-up panics, as a test should
mod lab;
use lab::*;

fn invite_with(ct: &str, body: &str, contact: &str) -> String {
    let len = crlf(body).len();
    format!("INVITE sip:bob@198.51.100.30 SIP/2.0\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKx1\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>\nCall-ID: c1@x\nCSeq: 1 INVITE\nContact: {contact}\nContent-Type: {ct}\nContent-Length: {len}\n\n{body}")
}

fn assert_no_lan(out: &[Sent]) {
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].to, sa(B));
    // The phone's own Via is expected to stay; look at everything after the Vias.
    let text = &out[0].text;
    let leaks: Vec<&str> = text
        .split("\r\n")
        .filter(|l| !l.starts_with("Via:") && l.contains("192.168.1."))
        .collect();
    assert!(
        leaks.is_empty(),
        "LAN address sent to the WAN: {leaks:?}\n{text}"
    );
}

#[test]
fn disabled_stream_keeps_lan_connection_address() {
    let mut lab = Lab::new();
    lab.register_alice(3600);
    let body = "v=0\no=- 1 1 IN IP4 192.168.1.10\ns=-\nt=0 0\nm=audio 4000 RTP/AVP 0\nc=IN IP4 192.168.1.10\nm=video 0 RTP/AVP 31\nc=IN IP4 192.168.1.10\n";
    let out = lab.on_lan(
        A,
        &invite_with("application/sdp", body, "<sip:alice@192.168.1.10:5060>"),
    );
    assert_no_lan(&out);
}

#[test]
fn multipart_sdp_towards_the_internet_is_refused_not_leaked() {
    let mut lab = Lab::new();
    lab.register_alice(3600);
    let body = "--b1\nContent-Type: application/sdp\n\nv=0\no=- 1 1 IN IP4 192.168.1.10\ns=-\nc=IN IP4 192.168.1.10\nt=0 0\nm=audio 4000 RTP/AVP 0\n\n--b1--\n";
    let out = lab.on_lan(
        A,
        &invite_with(
            "multipart/mixed;boundary=b1",
            body,
            "<sip:alice@192.168.1.10:5060>",
        ),
    );
    // Not rewritable (decisions §6: all or nothing): answered 488, nothing goes to the WAN.
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].to, sa(A));
    assert_eq!(out[0].status(), Some(488), "{}", out[0].text);
}

#[test]
fn sips_contact_is_not_masqueraded() {
    let mut lab = Lab::new();
    lab.register_alice(3600);
    let out = lab.on_lan(
        A,
        &invite_with(
            "application/sdp",
            &sdp("192.168.1.10", 4000),
            "<sips:alice@192.168.1.10:5061>",
        ),
    );
    assert_no_lan(&out);
}

#[test]
fn options_answer_with_sdp_is_not_rewritten() {
    let mut lab = Lab::new();
    lab.register_alice(3600);
    let opt = "OPTIONS sip:alice@203.0.113.5 SIP/2.0\nVia: SIP/2.0/UDP 198.51.100.30:5060;branch=z9hG4bKo1\nMax-Forwards: 70\nFrom: <sip:bob@example.com>;tag=b1\nTo: <sip:alice@example.com>\nCall-ID: o1@b\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n";
    let fwd = lab.on_wan(B, opt);
    assert_eq!(fwd.len(), 1, "{fwd:?}");
    let vias = fwd[0].headers("Via");
    let body = sdp("192.168.1.10", 4000);
    let resp = format!("SIP/2.0 200 OK\nVia: {}\nVia: {}\nFrom: <sip:bob@example.com>;tag=b1\nTo: <sip:alice@example.com>;tag=a9\nCall-ID: o1@b\nCSeq: 1 OPTIONS\nContact: <sip:alice@192.168.1.10:5060>\nContent-Type: application/sdp\nContent-Length: {}\n\n{body}", vias[0], vias[1], crlf(&body).len());
    let out = lab.on_lan(A, &resp);
    assert_no_lan(&out);
}
