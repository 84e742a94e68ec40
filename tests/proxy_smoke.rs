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

/// A next hop named without a port is looked up as `_sip._udp.<host>` SRV first (RFC 3263);
/// the message waits for the answer instead of blocking, and is dropped (counted) when the
/// lookup fails.
#[test]
fn next_hop_without_port_asks_for_srv_and_waits() {
    let mut lab = Lab::new();
    lab.register_alice(600);
    let inv = request(
        "INVITE sip:bob@voip.example.org SIP/2.0",
        "Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKsrv1\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@voip.example.org>\nCall-ID: srv1@192.168.1.10\nCSeq: 1 INVITE\n",
        "",
    );
    assert!(
        lab.on_lan(A, &inv).is_empty(),
        "nothing sent before DNS answers"
    );
    let (ns, q) = lab.take_dns().into_iter().next().expect("a DNS query");
    let n = q.len();
    assert_eq!(ns, sa("127.0.0.53:53"));
    // The question name in wire format: _sip._udp.voip.example.org, type SRV (33).
    let want: &[u8] = b"\x04_sip\x04_udp\x04voip\x07example\x03org\x00\x00\x21";
    assert!(
        q[..n].windows(want.len()).any(|w| w == want),
        "{:?}",
        &q[..n]
    );
    // No answer at all: after the resolver's retries the queued INVITE is dropped and counted.
    for _ in 0..40 {
        lab.advance(1000);
        lab.take_dns();
    }
    assert_eq!(
        lab.proxy
            .counters()
            .dropped(siproxd_rs::proxy::DropReason::DnsFailed),
        1
    );
}

/// `host_outbound` as a name (a DynDNS host in front of the router's NAT) is resolved without
/// blocking and its address is what the SDP advertises; Via and Contact carry the name.
#[test]
fn host_outbound_name_is_resolved_for_sdp() {
    let mut cfg = Lab::config();
    cfg.host_outbound = Some("pub.example.net".into());
    let mut lab = Lab::with_hosts(cfg, "198.51.100.200 pub.example.net\n");
    lab.advance(0);
    // Registered by hand: the registrar confirms the masqueraded Contact it received.
    let fwd = lab.on_lan(
        A,
        &register("sip:example.com", "<sip:alice@192.168.1.10:5060>", ""),
    );
    let (via, contact) = (
        fwd[0].header("Via").unwrap(),
        fwd[0].header("Contact").unwrap(),
    );
    assert_eq!(contact, "<sip:alice@pub.example.net>");
    let ok = format!(
        "SIP/2.0 200 OK\nVia: {via}\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKreg1\nFrom: <sip:alice@example.com>;tag=r1\nTo: <sip:alice@example.com>;tag=p1\nCall-ID: reg1@192.168.1.10\nCSeq: 1 REGISTER\nContact: {contact};expires=600\nContent-Length: 0\n\n"
    );
    assert_eq!(lab.on_wan(PROVIDER, &ok).len(), 1);
    let inv = request(
        "INVITE sip:bob@example.com SIP/2.0",
        "Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKho1\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>\nCall-ID: ho1@192.168.1.10\nCSeq: 1 INVITE\nContact: <sip:alice@192.168.1.10:5060>\n",
        &sdp("192.168.1.10", 4000),
    );
    let out = lab.on_lan(A, &inv);
    assert_eq!(out.len(), 1, "{out:?}");
    let f = &out[0];
    assert!(
        f.body().contains("c=IN IP4 198.51.100.200\r\n"),
        "{}",
        f.text
    );
    assert!(
        f.header("Via").unwrap().contains("pub.example.net:5060"),
        "{}",
        f.text
    );
    assert!(
        f.header("Contact").unwrap().contains("@pub.example.net"),
        "{}",
        f.text
    );
}
