//! The features merged side by side, combined in the sans-IO core with a virtual clock: SIP
//! over TCP on IPv6, plugin_stun on a dual-stack WAN, plugin_blacklist and
//! `wan_request_rate_limit` with IPv6, IPv4-mapped and TCP sources, STUN with the rate limit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // tests: a failed step panics, as a test should
mod lab;
use lab::*;

use std::net::SocketAddr;

use siproxd_rs::auth::Authenticator;
use siproxd_rs::config::{Config, PluginConfig, ProxyTransport};
use siproxd_rs::plugins::stun::Client;
use siproxd_rs::proxy::{Addresses, DropReason, Proxy, TableMedia};
use siproxd_rs::rtp::Table;
use siproxd_rs::sansio::{ConnId, Transport};

const I6: &str = "fd00::1";
const O6: &str = "2001:db8::5";
/// The IPv6 phone's connection to the proxy (ephemeral port) and its own address.
const PHONE6_TCP: &str = "[fd00::10]:40001";
const PHONE_CONN: ConnId = ConnId {
    slot: 3,
    generation: 1,
};
const PROVIDER6: &str = "[2001:db8::20]:5060";
const PROVIDER_CONN: ConnId = ConnId {
    slot: 4,
    generation: 1,
};
const STUN: &str = "198.51.100.40:3478";

/// A dual-stack router (LAN 192.168.1.1 + fd00::1, WAN 203.0.113.5 + 2001:db8::5) whose
/// resolver knows `hosts` besides the lab's names.
fn dual(hosts: &str, tweak: impl FnOnce(&mut Config)) -> Lab {
    let mut cfg = Lab::config();
    tweak(&mut cfg);
    let resolver = siproxd_rs::dns::Resolver::new(
        siproxd_rs::dns::ResolverConfig {
            resolv: siproxd_rs::dns::parse_resolv_conf("nameserver 127.0.0.53\n"),
            hosts: siproxd_rs::dns::parse_hosts(&format!("{HOSTS}{hosts}")),
            ipv6: true,
        },
        7,
    );
    let addrs = Addresses {
        inbound: ip(I),
        outbound: Some(ip(O)),
        inbound_alt: Some(ip(I6)),
        outbound_alt: Some(ip(O6)),
    };
    let media = TableMedia::new(Table::from_config(&cfg));
    Lab::from_parts(Proxy::new(cfg, addrs, resolver, None), media)
}

fn sdp_of(family: &str, addr: &str, port: u16) -> String {
    format!("v=0\no=- 1 1 IN {family} {addr}\ns=-\nc=IN {family} {addr}\nt=0 0\nm=audio {port} RTP/AVP 0\na=rtpmap:0 PCMU/8000\n")
}

/// The 200 a provider sends to the forwarded request `fwd` (every Via of it, SDP `body`).
fn ok_to(fwd: &Sent, contact: &str, body: &str) -> String {
    let vias: String = fwd
        .headers("Via")
        .iter()
        .map(|v| format!("Via: {v}\n"))
        .collect();
    let cseq = fwd.header("CSeq").unwrap();
    let from = fwd.header("From").unwrap();
    let to = fwd.header("To").unwrap();
    request(
        "SIP/2.0 200 OK",
        &format!(
            "{vias}From: {from}\nTo: {to};tag=p1\nCall-ID: {}\nCSeq: {cseq}\nContact: {contact}\n",
            fwd.header("Call-ID").unwrap()
        ),
        body,
    )
}

/// No LAN address of either family in a message towards the Internet, but in the phone's
/// own Via (kept, as siproxd does: tests/proxy_leaks.rs).
fn no_lan_address(m: &Sent) {
    let t: String = m
        .text
        .lines()
        .filter(|l| !l.starts_with("Via:"))
        .collect::<Vec<_>>()
        .join("\n");
    for lan in ["192.168.", "fd00:"] {
        assert!(!t.contains(lan), "{lan} leaks to the WAN:\n{t}");
    }
}

/// A REGISTER of alice from `via_host` (her Via and Contact host) to `ruri`.
fn register_text(ruri: &str, transport: &str, via_host: &str) -> String {
    let tp = if transport == "TCP" {
        ";transport=tcp"
    } else {
        ""
    };
    format!(
        "REGISTER {ruri} SIP/2.0\nVia: SIP/2.0/{transport} {via_host}:5060;branch=z9hG4bKr1\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=r1\nTo: <sip:alice@example.com>\nCall-ID: reg@x\nCSeq: 1 REGISTER\nContact: <sip:alice@{via_host}:5060{tp}>\nExpires: 600\nContent-Length: 0\n\n"
    )
}

/// An INVITE from alice at `via_host` to `ruri`, with SDP in her family.
fn invite_text(ruri: &str, transport: &str, via_host: &str, fam: &str, media: &str) -> String {
    let tp = if transport == "TCP" {
        ";transport=tcp"
    } else {
        ""
    };
    request(
        &format!("INVITE {ruri} SIP/2.0"),
        &format!("Via: SIP/2.0/{transport} {via_host}:5060;branch=z9hG4bKi1\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>\nCall-ID: call@x\nCSeq: 1 INVITE\nContact: <sip:alice@{via_host}:5060{tp}>\n"),
        &sdp_of(fam, media, 40000),
    )
}

/// alice's INVITE to `ruri` from her IPv4 address over UDP, with IPv4 SDP.
fn ipv4_phone_invite(ruri: &str) -> String {
    invite_text(ruri, "UDP", "192.168.1.10", "IP4", "192.168.1.10")
}

/// An IPv6 phone on the LAN over TCP registers and calls an IPv6 provider over TCP through
/// the dual-stack proxy: everything towards the provider leaves over TCP from the WAN's IPv6
/// address and names it in brackets with `;transport=tcp` (Via, Contact); the SDP is IN IP6
/// of the WAN side; the 200 returns on the phone's connection with our bracketed TCP
/// Record-Route and the LAN's IPv6 address in its SDP.
#[test]
fn tcp_over_ipv6_phone_to_ipv6_provider() {
    let mut lab = dual("", |c| c.outbound_proxy_host = Some("2001:db8::20".into()));
    let out = lab.deliver_on(
        Transport::Tcp,
        Some(PHONE_CONN),
        PHONE6_TCP,
        I6,
        &register_text("sip:example.com", "TCP", "[fd00::10]"),
    );
    assert_eq!(out.len(), 1, "{out:?}");
    let reg = &out[0];
    assert_eq!((reg.to, reg.from), (sa(PROVIDER6), ip(O6)));
    assert_eq!(reg.transport, Transport::Tcp);
    let vias = reg.headers("Via");
    assert!(
        vias[0].starts_with("SIP/2.0/TCP [2001:db8::5]:5060;"),
        "{vias:?}"
    );
    assert!(vias[1].contains("rport=40001"), "{vias:?}");
    assert_eq!(
        reg.header("Contact").unwrap(),
        "<sip:alice@[2001:db8::5];transport=tcp>"
    );
    let ok = ok_to(
        reg,
        &format!("{};expires=600", reg.header("Contact").unwrap()),
        "",
    );
    let back = lab.deliver_on(Transport::Tcp, Some(PROVIDER_CONN), PROVIDER6, O6, &ok);
    assert_eq!(back.len(), 1, "{back:?}");
    assert_eq!(
        (back[0].to, back[0].from, back[0].transport),
        (sa(PHONE6_TCP), ip(I6), Transport::Tcp)
    );

    let inv = invite_text(
        "sip:bob@example.com",
        "TCP",
        "[fd00::10]",
        "IP6",
        "fd00::10",
    );
    let out = lab.deliver_on(Transport::Tcp, Some(PHONE_CONN), PHONE6_TCP, I6, &inv);
    assert_eq!(out.len(), 1, "{out:?}");
    let fwd = &out[0];
    assert_eq!((fwd.to, fwd.from), (sa(PROVIDER6), ip(O6)));
    assert_eq!(fwd.transport, Transport::Tcp, "a stream transport");
    assert!(
        fwd.headers("Via")[0].starts_with("SIP/2.0/TCP [2001:db8::5]:5060;branch="),
        "{fwd:?}"
    );
    assert_eq!(
        fwd.header("Contact").unwrap(),
        "<sip:alice@[2001:db8::5];transport=tcp>"
    );
    let body = fwd.body();
    assert!(
        body.contains("o=- 1 1 IN IP6 2001:db8::5\r\n")
            && body.contains("c=IN IP6 2001:db8::5\r\n"),
        "{body}"
    );
    no_lan_address(fwd);

    let ok = ok_to(
        fwd,
        "<sip:bob@[2001:db8::20];transport=tcp>",
        &sdp_of("IP6", "2001:db8::99", 50000),
    );
    let back = lab.deliver_on(Transport::Tcp, Some(PROVIDER_CONN), PROVIDER6, O6, &ok);
    assert_eq!(back.len(), 1, "{back:?}");
    let b = &back[0];
    assert_eq!(
        (b.to, b.from, b.transport),
        (sa(PHONE6_TCP), ip(I6), Transport::Tcp)
    );
    assert_eq!(
        b.headers("Record-Route"),
        ["<sip:siproxd@[fd00::1]:5060;transport=tcp;lr>"]
    );
    assert!(b.body().contains("c=IN IP6 fd00::1\r\n"), "{}", b.body());

    // The call back: the provider's INVITE over TCP to her masqueraded contact reaches the
    // phone over TCP on the LAN's IPv6 address, our Record-Route first, bracketed and TCP.
    let inv = request(
        "INVITE sip:alice@[2001:db8::5];transport=tcp SIP/2.0",
        "Via: SIP/2.0/TCP [2001:db8::20]:5060;branch=z9hG4bKin6\nMax-Forwards: 70\n\
         From: <sip:bob@example.com>;tag=b1\nTo: <sip:alice@example.com>\nCall-ID: in6@x\n\
         CSeq: 1 INVITE\nContact: <sip:bob@[2001:db8::20];transport=tcp>\n",
        &sdp_of("IP6", "2001:db8::99", 50002),
    );
    let out = lab.deliver_on(Transport::Tcp, Some(PROVIDER_CONN), PROVIDER6, O6, &inv);
    assert_eq!(out.len(), 1, "{out:?}");
    let m = &out[0];
    assert_eq!(
        (m.to, m.from, m.transport),
        (sa("[fd00::10]:5060"), ip(I6), Transport::Tcp)
    );
    assert!(
        m.first_line()
            .starts_with("INVITE sip:alice@[fd00::10]:5060;transport=tcp "),
        "{}",
        m.first_line()
    );
    assert!(
        m.headers("Via")[0].starts_with("SIP/2.0/TCP [fd00::1]:5060;"),
        "{m:?}"
    );
    assert_eq!(
        m.headers("Record-Route"),
        ["<sip:siproxd@[fd00::1]:5060;transport=tcp;lr>"]
    );
    assert!(m.body().contains("c=IN IP6 fd00::1\r\n"), "{}", m.body());
}

/// The mixed case: an IPv4 phone over UDP calls an IPv6 provider reached over TCP
/// (`outbound_proxy_transport = tcp`): the INVITE leaves over TCP from the WAN's IPv6
/// address with a bracketed TCP Via and Contact and IPv6 SDP; the 200 returns to the phone
/// over UDP in IPv4, our Record-Route on the LAN's IPv4 address without a transport.
#[test]
fn udp_ipv4_phone_to_tcp_ipv6_provider() {
    let mut lab = dual("", |c| {
        c.outbound_proxy_host = Some("2001:db8::20".into());
        c.outbound_proxy_transport = Some(ProxyTransport::Tcp);
    });
    let out = lab.on_lan(A, &register_text("sip:example.com", "UDP", "192.168.1.10"));
    assert_eq!(out.len(), 1, "{out:?}");
    let reg = &out[0];
    assert_eq!(
        (reg.to, reg.from, reg.transport),
        (sa(PROVIDER6), ip(O6), Transport::Tcp)
    );
    assert_eq!(
        reg.header("Contact").unwrap(),
        "<sip:alice@[2001:db8::5];transport=tcp>"
    );
    let ok = ok_to(
        reg,
        &format!("{};expires=600", reg.header("Contact").unwrap()),
        "",
    );
    let back = lab.deliver_on(Transport::Tcp, Some(PROVIDER_CONN), PROVIDER6, O6, &ok);
    assert_eq!(back.len(), 1, "{back:?}");
    assert_eq!((back[0].to, back[0].transport), (sa(A), Transport::Udp));

    let inv = ipv4_phone_invite("sip:bob@example.com");
    let out = lab.on_lan(A, &inv);
    assert_eq!(out.len(), 1, "{out:?}");
    let fwd = &out[0];
    assert_eq!(
        (fwd.to, fwd.from, fwd.transport),
        (sa(PROVIDER6), ip(O6), Transport::Tcp)
    );
    assert!(fwd.headers("Via")[0].starts_with("SIP/2.0/TCP [2001:db8::5]:5060;"));
    assert_eq!(
        fwd.header("Contact").unwrap(),
        "<sip:alice@[2001:db8::5];transport=tcp>"
    );
    assert!(
        fwd.body().contains("c=IN IP6 2001:db8::5\r\n"),
        "{}",
        fwd.body()
    );
    no_lan_address(fwd);
    let ok = ok_to(
        fwd,
        "<sip:bob@[2001:db8::20];transport=tcp>",
        &sdp_of("IP6", "2001:db8::99", 50000),
    );
    let back = lab.deliver_on(Transport::Tcp, Some(PROVIDER_CONN), PROVIDER6, O6, &ok);
    assert_eq!(back.len(), 1, "{back:?}");
    let b = &back[0];
    assert_eq!((b.to, b.from, b.transport), (sa(A), ip(I), Transport::Udp));
    assert_eq!(
        b.headers("Record-Route"),
        ["<sip:siproxd@192.168.1.1:5060;lr>"]
    );
    assert!(
        b.body().contains("c=IN IP4 192.168.1.1\r\n"),
        "{}",
        b.body()
    );
}

/// Without STUN too, a phone registered through an IPv4 registrar (Contact on the WAN's IPv4
/// address) calling an IPv6 provider over TCP gets the WAN's IPv6 address in its Contact,
/// with `;transport=tcp`.
#[test]
fn a_contact_registered_over_ipv4_is_the_ipv6_address_towards_an_ipv6_tcp_hop() {
    let mut lab = dual("", |_| {});
    let out = lab.on_lan(A, &register_text("sip:example.com", "UDP", "192.168.1.10"));
    assert_eq!(out[0].header("Contact").unwrap(), "<sip:alice@203.0.113.5>");
    let ok = ok_to(&out[0], "<sip:alice@203.0.113.5>;expires=600", "");
    assert_eq!(lab.on_wan(PROVIDER, &ok).len(), 1);
    let out = lab.on_lan(
        A,
        &ipv4_phone_invite("sip:bob@[2001:db8::20];transport=tcp"),
    );
    assert_eq!(out.len(), 1, "{out:?}");
    let m = &out[0];
    assert_eq!(
        (m.to, m.from, m.transport),
        (sa(PROVIDER6), ip(O6), Transport::Tcp)
    );
    assert_eq!(
        m.header("Contact").unwrap(),
        "<sip:alice@[2001:db8::5];transport=tcp>"
    );
    assert!(!m.text.contains("203.0.113.5"), "{m:?}");
}

// ---- STUN on a dual-stack WAN ----

fn stun_config(c: &mut Config) {
    c.load_plugin = vec!["stun".into()];
    c.plugins = PluginConfig {
        plugin_stun_server: Some("stun.example.com".into()),
        plugin_stun_period: 300,
        ..PluginConfig::default()
    };
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

/// The one Binding request among `out`, to `server`: its 16-byte id and where it left from.
fn binding_request(out: &[RawSent], server: &str) -> ([u8; 16], std::net::IpAddr) {
    let reqs: Vec<&RawSent> = out.iter().filter(|r| r.to == sa(server)).collect();
    assert_eq!(reqs.len(), 1, "one Binding request to {server}: {out:?}");
    (reqs[0].bytes[4..20].try_into().unwrap(), reqs[0].from)
}

/// An RFC 5389 answer to `tx` naming the IPv4 address `public` (XOR-MAPPED-ADDRESS).
fn xor_answer(tx: &[u8; 16], public: [u8; 4]) -> Vec<u8> {
    let mut a = vec![0x01, 0x01, 0, 12];
    a.extend_from_slice(tx);
    a.extend_from_slice(&[0x00, 0x20, 0, 8, 0, 1]);
    a.extend_from_slice(&(5060u16 ^ 0x2112).to_be_bytes());
    a.extend((0..4).map(|i| public[i] ^ tx[i]));
    a
}

/// A dual-stack lab whose STUN client learned 203.0.113.99 from stun.example.com.
fn stun_lab(tweak: impl FnOnce(&mut Config)) -> Lab {
    let mut cfg = Lab::config();
    stun_config(&mut cfg);
    tweak(&mut cfg);
    let c2 = cfg.clone();
    let mut lab = dual("198.51.100.40 stun.example.com\n", move |c| *c = c2);
    lab.proxy
        .set_stun(Some(Client::from_config(&cfg, 99).unwrap()));
    let (tx, from) = binding_request(&advance_raw(&mut lab, 0), STUN);
    assert_eq!(from, ip(O));
    assert!(lab
        .deliver_bytes(STUN, O, &xor_answer(&tx, [203, 0, 113, 99]))
        .is_empty());
    assert_eq!(lab.proxy.public_address().unwrap().1, "stun");
    lab
}

/// Alice registers through `registrar` (a Request-URI host): the registrar's 200 grants the
/// masqueraded Contact, which is returned.
fn register_alice_at(lab: &mut Lab, registrar: &str, local: &str) -> String {
    let out = lab.on_lan(
        A,
        &register_text(&format!("sip:{registrar}"), "UDP", "192.168.1.10"),
    );
    assert_eq!(out.len(), 1, "{out:?}");
    let contact = out[0].header("Contact").unwrap();
    let ok = ok_to(&out[0], &format!("{contact};expires=600"), "");
    let to = out[0].to.to_string();
    assert_eq!(lab.deliver(&to, local, &ok).len(), 1, "200 to the phone");
    contact
}

/// plugin_stun learned an IPv4 public address on a dual-stack WAN, and alice registered
/// through an IPv4 registrar (her masqueraded Contact on the STUN address): a call to an IPv6
/// next hop still names the WAN's IPv6 address in Via, Contact and SDP — the far end could
/// not reach the IPv4 STUN address — while a call to an IPv4 next hop names the STUN address.
#[test]
fn stun_ipv4_address_is_used_only_towards_ipv4_next_hops() {
    let mut lab = stun_lab(|_| {});
    assert_eq!(
        register_alice_at(&mut lab, "example.com", O),
        "<sip:alice@203.0.113.99>"
    );
    let v6 = lab.on_lan(A, &ipv4_phone_invite("sip:bob@[2001:db8::30]"));
    assert_eq!(v6.len(), 1, "{v6:?}");
    let m = &v6[0];
    assert_eq!((m.to, m.from), (sa("[2001:db8::30]:5060"), ip(O6)));
    assert!(
        m.headers("Via")[0].starts_with("SIP/2.0/UDP [2001:db8::5]:5060;"),
        "{m:?}"
    );
    assert_eq!(m.header("Contact").unwrap(), "<sip:alice@[2001:db8::5]>");
    assert!(
        m.body().contains("c=IN IP6 2001:db8::5\r\n"),
        "{}",
        m.body()
    );
    assert!(!m.text.contains("203.0.113.99"), "{m:?}");

    let v4 = lab.on_lan(
        A,
        &ipv4_phone_invite("sip:bob@198.51.100.30").replace("call@x", "call2@x"),
    );
    assert_eq!(v4.len(), 1, "{v4:?}");
    let m = &v4[0];
    assert_eq!((m.to, m.from), (sa(B), ip(O)));
    assert!(
        m.headers("Via")[0].starts_with("SIP/2.0/UDP 203.0.113.99:5060;"),
        "{m:?}"
    );
    assert_eq!(m.header("Contact").unwrap(), "<sip:alice@203.0.113.99>");
    assert!(
        m.body().contains("c=IN IP4 203.0.113.99\r\n"),
        "{}",
        m.body()
    );
    assert!(!m.text.contains("203.0.113.5"), "{m:?}");
}

/// The other way round: registered through an IPv6 registrar (Contact on the WAN's IPv6
/// address), alice calls an IPv4 far end: her Contact names the STUN address, and the far
/// end's BYE sent to that Contact reaches her.
#[test]
fn a_contact_registered_over_ipv6_is_the_stun_address_towards_ipv4() {
    let mut lab = stun_lab(|_| {});
    assert_eq!(
        register_alice_at(&mut lab, "[2001:db8::21]", O6),
        "<sip:alice@[2001:db8::5]>"
    );
    let out = lab.on_lan(A, &ipv4_phone_invite("sip:bob@198.51.100.30"));
    assert_eq!(out.len(), 1, "{out:?}");
    let m = &out[0];
    assert_eq!((m.to, m.from), (sa(B), ip(O)));
    assert!(
        m.headers("Via")[0].starts_with("SIP/2.0/UDP 203.0.113.99:5060;"),
        "{m:?}"
    );
    assert_eq!(m.header("Contact").unwrap(), "<sip:alice@203.0.113.99>");
    assert!(!m.text.contains("2001:db8::5"), "{m:?}");
    let bye = request(
        "BYE sip:alice@203.0.113.99 SIP/2.0",
        "Via: SIP/2.0/UDP 198.51.100.30:5060;branch=z9hG4bKbye\nMax-Forwards: 70\n\
         From: <sip:bob@example.com>;tag=p1\nTo: <sip:alice@example.com>;tag=a1\n\
         Call-ID: call@x\nCSeq: 2 BYE\n",
        "",
    );
    let out = lab.on_wan(B, &bye);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!((out[0].to, out[0].from), (sa(A), ip(I)));
}

/// plugin_stun with a TCP phone: its REGISTER leaves over TCP naming the STUN address in Via
/// and in the Contact with `;transport=tcp`, and the registrar's 200 over TCP to that Via is
/// recognised as ours and reaches the phone's connection.
#[test]
fn stun_address_over_tcp() {
    let mut lab = stun_lab(|_| {});
    let out = lab.deliver_on(
        Transport::Tcp,
        Some(PHONE_CONN),
        "192.168.1.10:40001",
        I,
        &register_text("sip:example.com", "TCP", "192.168.1.10"),
    );
    assert_eq!(out.len(), 1, "{out:?}");
    let reg = &out[0];
    assert_eq!(
        (reg.to, reg.from, reg.transport),
        (sa(PROVIDER), ip(O), Transport::Tcp)
    );
    assert!(
        reg.headers("Via")[0].starts_with("SIP/2.0/TCP 203.0.113.99:5060;"),
        "{reg:?}"
    );
    assert_eq!(
        reg.header("Contact").unwrap(),
        "<sip:alice@203.0.113.99;transport=tcp>"
    );
    let ok = ok_to(
        reg,
        &format!("{};expires=600", reg.header("Contact").unwrap()),
        "",
    );
    let back = lab.deliver_on(Transport::Tcp, Some(PROVIDER_CONN), PROVIDER, O, &ok);
    assert_eq!(back.len(), 1, "{back:?}");
    assert_eq!(
        (back[0].to, back[0].transport),
        (sa("192.168.1.10:40001"), Transport::Tcp)
    );
}

/// A dual-stack lab with plugin_stun whose server name `hosts` resolves, nothing asked yet.
fn stun_lab_with_hosts(hosts: &str) -> Lab {
    let mut cfg = Lab::config();
    stun_config(&mut cfg);
    let c2 = cfg.clone();
    let mut lab = dual(hosts, move |c| *c = c2);
    lab.proxy
        .set_stun(Some(Client::from_config(&cfg, 99).unwrap()));
    lab
}

/// A STUN server known only by an IPv6 address on a WAN whose first address is IPv4: the
/// Binding request leaves from the WAN address of the server's family (the shell cannot send
/// across families). A dual-stack name is asked over IPv4 (the resolver lists IPv4 first),
/// the family a NAT in front of the router maps, even when the WAN's first address is IPv6.
#[test]
fn the_stun_request_leaves_from_the_wan_address_of_the_servers_family() {
    let mut lab = stun_lab_with_hosts("2001:db8::40 stun.example.com\n");
    let (_, from) = binding_request(&advance_raw(&mut lab, 0), "[2001:db8::40]:3478");
    assert_eq!(from, ip(O6));

    let mut lab =
        stun_lab_with_hosts("2001:db8::40 stun.example.com\n198.51.100.40 stun.example.com\n");
    let (_, from) = binding_request(&advance_raw(&mut lab, 0), STUN);
    assert_eq!(from, ip(O));
    lab.proxy.set_addresses(Addresses {
        inbound: ip(I),
        outbound: Some(ip(O6)),
        inbound_alt: Some(ip(I6)),
        outbound_alt: Some(ip(O)),
    });
    let (_, from) = binding_request(&advance_raw(&mut lab, 0), STUN);
    assert_eq!(
        from,
        ip(O),
        "from the IPv4 address, the alternative one now"
    );
}

/// A new prefix renumbers the WAN's IPv6 address while its IPv4 address stays: a STUN
/// server asked over IPv6 is asked again at once from the new address, not at the next retry.
#[test]
fn a_renumbered_ipv6_wan_address_asks_an_ipv6_stun_server_again() {
    let mut lab = stun_lab_with_hosts("2001:db8::40 stun.example.com\n");
    let server = "[2001:db8::40]:3478";
    let (_, from) = binding_request(&advance_raw(&mut lab, 0), server);
    assert_eq!(from, ip(O6));
    // Unanswered: the next try is 10 s away.
    let quiet = advance_raw(&mut lab, 1000);
    assert!(quiet.iter().all(|r| r.to != sa(server)), "{quiet:?}");
    lab.proxy.set_addresses(Addresses {
        inbound: ip(I),
        outbound: Some(ip(O)),
        inbound_alt: Some(ip(I6)),
        outbound_alt: Some(ip("2001:db8:1::5")),
    });
    let (_, from) = binding_request(&advance_raw(&mut lab, 0), server);
    assert_eq!(from, ip("2001:db8:1::5"));
}

/// `wan_request_rate_limit` is on by default: a STUN server that is also a busy SIP peer
/// (its requests use up its allowance) must still have its Binding answer taken — an answer
/// to our request is not a request.
#[test]
fn a_stun_answer_is_not_rate_limited() {
    let mut lab = dual("198.51.100.40 stun.example.com\n", |c| {
        stun_config(c);
        c.wan_request_rate_limit = 2;
    });
    let mut cfg = Lab::config();
    stun_config(&mut cfg);
    lab.proxy
        .set_stun(Some(Client::from_config(&cfg, 99).unwrap()));
    let (tx, _) = binding_request(&advance_raw(&mut lab, 0), STUN);
    // The server's host sends OPTIONS beyond its allowance.
    let opts = |n: u32| {
        format!(
            "OPTIONS sip:203.0.113.5 SIP/2.0\nVia: SIP/2.0/UDP 198.51.100.40:5060;branch=z9hG4bKo{n}\nMax-Forwards: 0\nFrom: <sip:s@198.51.100.40>;tag=o{n}\nTo: <sip:203.0.113.5>\nCall-ID: opt{n}@x\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n"
        )
    };
    let answered: usize = (0..5)
        .map(|n| lab.deliver("198.51.100.40:5060", O, &opts(n)).len())
        .sum();
    assert_eq!(answered, 2, "the limit holds for its requests");
    assert!(lab
        .deliver_bytes(STUN, O, &xor_answer(&tx, [203, 0, 113, 99]))
        .is_empty());
    assert_eq!(
        lab.proxy.public_address().unwrap(),
        ("203.0.113.99".to_string(), "stun", Some(lab.now))
    );
}

// ---- blacklist and rate limit with IPv6, IPv4-mapped and TCP sources ----

/// A dual-stack registrar (password `secret`) with plugin_blacklist; WAN hosts of
/// 198.51.100.0/24 and 2001:db8::/32 may register.
fn registrar(tweak: impl FnOnce(&mut Config)) -> Lab {
    let mut cfg = Lab::config();
    cfg.load_plugin = vec!["blacklist".into()];
    cfg.hosts_allow_reg =
        siproxd_rs::acl::AclList::parse("198.51.100.0/24,192.168.1.0/24,2001:db8::/32").ok();
    tweak(&mut cfg);
    let c2 = cfg.clone();
    let mut lab = dual("", move |c| *c = c2);
    let auth = Authenticator::new("testrealm", [9; 32], Some("secret"), None, false);
    lab.proxy.reconfigure(cfg, Some(auth));
    lab
}

/// A REGISTER to `ruri_host` from `src` with a wrong digest answer.
fn guess(src: &str, ruri_host: &str, n: u32) -> String {
    format!(
        "REGISTER sip:{ruri_host} SIP/2.0\nVia: SIP/2.0/UDP {src};branch=z9hG4bKg{n}\nMax-Forwards: 70\n\
         From: <sip:100@{ruri_host}>;tag=s{n}\nTo: <sip:100@{ruri_host}>\nCall-ID: scan{n}@x\n\
         CSeq: {n} REGISTER\nContact: <sip:100@{src}>\n\
         Proxy-Authorization: Digest username=\"100\", realm=\"testrealm\", nonce=\"0000\", \
         uri=\"sip:{ruri_host}\", response=\"{n:032x}\"\nContent-Length: 0\n\n"
    )
}

fn blocked_drops(lab: &Lab) -> u64 {
    lab.proxy.counters().dropped(DropReason::Blacklisted)
}

/// Failed REGISTERs from `::ffff:198.51.100.7` and from `198.51.100.7` are one source: they
/// count for one entry, which blocks both spellings.
#[test]
fn ipv4_mapped_and_plain_failures_count_for_one_entry() {
    let mut lab = registrar(|_| {});
    for n in 1..=11 {
        let (src, local) = if n % 2 == 0 {
            ("[::ffff:198.51.100.7]:5070", "::ffff:203.0.113.5")
        } else {
            ("198.51.100.7:5070", O)
        };
        let out = lab.deliver(src, local, &guess("198.51.100.7:5070", "203.0.113.5", n));
        assert_eq!(out.len(), 1, "attempt {n} answered");
        assert_eq!(out[0].status(), Some(403), "{}", out[0].text);
        assert_eq!(out[0].to, sa("198.51.100.7:5070"), "answered in IPv4");
    }
    let entries: Vec<_> = lab.proxy.blacklist().unwrap().entries().copied().collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].ip, ip("198.51.100.7"));
    assert!(entries[0].blocked);
    for (src, local) in [
        ("[::ffff:198.51.100.7]:5070", "::ffff:203.0.113.5"),
        ("198.51.100.7:5070", O),
    ] {
        let out = lab.deliver(src, local, &guess("198.51.100.7:5070", "203.0.113.5", 12));
        assert!(out.is_empty(), "{src} blocked: {out:?}");
    }
    assert_eq!(blocked_drops(&lab), 2);
}

/// An IPv6 source on the WAN is blocked after its failures like an IPv4 one (its UDP and its
/// TCP messages alike), and a source in another /64 is still served.
#[test]
fn an_ipv6_wan_source_is_blocked_on_udp_and_tcp() {
    let mut lab = registrar(|_| {});
    let src = "[2001:db8::66]:5070";
    for n in 1..=11 {
        let out = lab.deliver(src, O6, &guess(src, "[2001:db8::5]", n));
        assert_eq!(out.len(), 1, "attempt {n} answered: {out:?}");
        assert_eq!(out[0].status(), Some(403), "{}", out[0].text);
        assert_eq!((out[0].to, out[0].from), (sa(src), ip(O6)));
    }
    assert!(lab
        .deliver(src, O6, &guess(src, "[2001:db8::5]", 12))
        .is_empty());
    // Over a TCP connection from the blocked source: dropped too, unanswered.
    let out = lab.deliver_on(
        Transport::Tcp,
        Some(PROVIDER_CONN),
        "[2001:db8::66]:40000",
        O6,
        &guess(src, "[2001:db8::5]", 13),
    );
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(blocked_drops(&lab), 2);
    // Another network (/64) is still served; the same /64 is blocked with it.
    let other = "[2001:db8:0:1::67]:5070";
    assert_eq!(
        lab.deliver(other, O6, &guess(other, "[2001:db8::5]", 1))
            .len(),
        1
    );
}

/// An IPv4 source blocked by its failures over UDP is dropped when it comes over TCP too
/// (an Origin with Transport::Tcp and a connection).
#[test]
fn a_blocked_ipv4_source_is_dropped_over_tcp() {
    let mut lab = registrar(|_| {});
    let src = "198.51.100.66:5070";
    for n in 1..=11 {
        assert_eq!(lab.deliver(src, O, &guess(src, "203.0.113.5", n)).len(), 1);
    }
    let out = lab.deliver_on(
        Transport::Tcp,
        Some(PROVIDER_CONN),
        "198.51.100.66:40000",
        O,
        &guess(src, "203.0.113.5", 12),
    );
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(blocked_drops(&lab), 1);
}

fn options_from(src: &str, to_host: &str, n: u32) -> String {
    format!(
        "OPTIONS sip:{to_host} SIP/2.0\nVia: SIP/2.0/UDP {src};branch=z9hG4bKo{n}\nMax-Forwards: 0\n\
         From: <sip:s@example.net>;tag=o{n}\nTo: <sip:{to_host}>\nCall-ID: opt{n}@x\nCSeq: 1 OPTIONS\n\
         Content-Length: 0\n\n"
    )
}

/// An IPv6 WAN source over the rate limit is cut to it as an IPv4 one is, over UDP and over
/// TCP; its IPv4-mapped spelling shares the IPv4 source's allowance.
#[test]
fn the_rate_limit_holds_for_ipv6_mapped_and_tcp_sources() {
    let mut lab = dual("", |c| c.wan_request_rate_limit = 10);
    let src = "[2001:db8::66]:5070";
    let mut answered = 0;
    for n in 0..100 {
        let out = if n % 2 == 0 {
            lab.deliver(src, O6, &options_from(src, "[2001:db8::5]", n))
        } else {
            lab.deliver_on(
                Transport::Tcp,
                Some(PROVIDER_CONN),
                "[2001:db8::66]:40000",
                O6,
                &options_from(src, "[2001:db8::5]", n),
            )
        };
        answered += out.len();
    }
    assert_eq!(answered, 10, "one second's burst");
    assert_eq!(lab.proxy.counters().dropped(DropReason::RateLimited), 90);
    // One IPv4 source in two spellings: one allowance.
    let mut answered = 0;
    for n in 0..40 {
        let (s, local) = if n % 2 == 0 {
            ("[::ffff:198.51.100.7]:5070", "::ffff:203.0.113.5")
        } else {
            ("198.51.100.7:5070", O)
        };
        answered += lab
            .deliver(
                s,
                local,
                &options_from("198.51.100.7:5070", "203.0.113.5", n),
            )
            .len();
    }
    assert_eq!(answered, 10);
    // The LAN's IPv6 phones are not limited.
    for n in 0..30 {
        let out = lab.deliver(
            "[fd00::10]:5060",
            I6,
            &options_from("[fd00::10]:5060", "[fd00::1]", n),
        );
        assert_eq!(out.len(), 1, "LAN request {n}");
    }
}

/// Each address of an IPv6 /64 is one host of one subscriber: a flood rotating through its
/// addresses must not get a fresh allowance per address (and evict every other source's
/// bucket from the fixed table).
#[test]
fn a_flood_rotating_through_one_ipv6_64_is_limited_as_one_source() {
    let mut lab = dual("", |c| c.wan_request_rate_limit = 10);
    let mut answered = 0;
    for n in 0..200u32 {
        let src: SocketAddr = format!("[2001:db8:0:7::{:x}]:5070", n + 1).parse().unwrap();
        let s = src.to_string();
        answered += lab
            .deliver(&s, O6, &options_from(&s, "[2001:db8::5]", n))
            .len();
    }
    assert_eq!(answered, 10, "one second's burst for the /64");
}

/// TCP with IPv6: the cap on connections per source counts an IPv6 /64 as one source, so a
/// host rotating through its addresses cannot take every slot of the connection table (and
/// shut out the phones and providers) — another network still connects.
#[test]
fn tcp_connections_per_source_count_an_ipv6_64_as_one() {
    use siproxd_rs::stream::{StreamLimits, Streams};
    let mut streams = Streams::new(StreamLimits {
        max_connections: 16,
        per_source: 2,
        idle_timeout: Some(600_000),
        keepalive: None,
        connect_timeout: 500,
        message_deadline: 10_000,
        write_queue: 64 * 1024,
    });
    let local = sa("[2001:db8::5]:5060");
    let accepted = (1..=20u32)
        .filter(|n| {
            let peer: SocketAddr = format!("[2001:db8:0:7::{n:x}]:40000").parse().unwrap();
            streams.accept(1_000, peer, local).is_ok()
        })
        .count();
    assert_eq!(accepted, 2, "per_source for the /64");
    assert!(streams
        .accept(1_000, sa("[2001:db8:0:8::1]:40000"), local)
        .is_ok());
}

/// plugin_blacklist with IPv6: a guesser rotating through the addresses of its /64 (any host
/// can) gets `hitcount` guesses per address, so without counting per /64 the blacklist never
/// stops it: its entries are the /64 (shown as such in the status and the log).
#[test]
fn failures_from_one_ipv6_64_block_the_64() {
    let mut lab = registrar(|_| {});
    for n in 1..=11u32 {
        let src = format!("[2001:db8:0:7::{n:x}]:5070");
        let out = lab.deliver(&src, O6, &guess(&src, "[2001:db8::5]", n));
        assert_eq!(out.len(), 1, "attempt {n} answered");
    }
    let src = "[2001:db8:0:7::ff]:5070";
    let out = lab.deliver(src, O6, &guess(src, "[2001:db8::5]", 12));
    assert!(out.is_empty(), "the /64 is blocked: {out:?}");
}
