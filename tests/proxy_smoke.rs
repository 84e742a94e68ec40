//! A first end-to-end pass through the core: register, then an outgoing call with SDP.
mod lab;
use lab::*;

#[test]
fn register_then_outgoing_invite_with_sdp_gets_relay_ports() {
    let mut lab = Lab::new();
    lab.register_alice(600);
    let inv = request(
        "INVITE sip:bob@example.com SIP/2.0",
        "Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKinv1\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>\nCall-ID: call1@192.168.1.10\nCSeq: 1 INVITE\nContact: <sip:alice@192.168.1.10:5060>\n",
        &sdp("192.168.1.10", 4000),
    );
    let out = lab.on_lan(A, &inv);
    assert_eq!(out.len(), 1, "{out:?}");
    let f = &out[0];
    assert_eq!(f.to, sa(PROVIDER));
    assert_eq!(f.from, ip(O));
    assert!(
        f.body().contains("c=IN IP4 203.0.113.5\r\n"),
        "{}",
        f.body()
    );
    assert!(
        f.body().contains("m=audio 7070 RTP/AVP 0\r\n"),
        "{}",
        f.body()
    );
    assert!(
        !f.text.contains("192.168.1.10:5060>"),
        "Contact masqueraded: {}",
        f.text
    );
    assert_eq!(
        f.header("Content-Length").unwrap(),
        f.body().len().to_string()
    );
}
