//! IPv6 in the proxy core (issue 13): a dual-stack router bridges IPv4 and IPv6 phones to
//! IPv4 and IPv6 providers, each side's SIP and SDP in that side's family; the RFC 5118
//! messages go through it as `rfc5118/INDEX.tsv` says.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)] // test helpers: a failed set-up panics, as a test should
mod lab;
use lab::*;

use std::net::{IpAddr, SocketAddr};

use siproxd_rs::acl::AclList;
use siproxd_rs::config::Config;
use siproxd_rs::proxy::{Addresses, Proxy, TableMedia};
use siproxd_rs::rtp::{Table, Token, Verdict};

const I6: &str = "fd00::1";
const O6: &str = "2001:db8::5";
const A6: &str = "[fd00::10]:5060";

/// A dual-stack router: LAN 192.168.1.1 + fd00::1, WAN 203.0.113.5 + 2001:db8::5, all
/// outgoing SIP to `provider`.
fn dual_lab(provider: &str, tweak: impl FnOnce(&mut Config)) -> Lab {
    let mut cfg = Lab::config();
    cfg.outbound_proxy_host = Some(provider.into());
    tweak(&mut cfg);
    let resolver = siproxd_rs::dns::Resolver::new(
        siproxd_rs::dns::ResolverConfig {
            resolv: siproxd_rs::dns::parse_resolv_conf("nameserver 127.0.0.53\n"),
            hosts: siproxd_rs::dns::parse_hosts("2001:db8::21 v6.example.net\n198.51.100.21 v4.example.net\n2001:db8::22 both.example.net\n198.51.100.22 both.example.net\n"),
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

fn register_from(lab: &mut Lab, phone: &str, contact_host: &str) -> RawSent {
    register_user(lab, "alice", phone, contact_host)
}

fn register_user(lab: &mut Lab, user: &str, phone: &str, contact_host: &str) -> RawSent {
    let text = format!(
        "REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/UDP {contact_host}:5060;branch=z9hG4bKreg1\nMax-Forwards: 70\nFrom: <sip:{user}@example.com>;tag=r1\nTo: <sip:{user}@example.com>\nCall-ID: reg-{user}@x\nCSeq: 1 REGISTER\nContact: <sip:{user}@{contact_host}:5060>;expires=3600\nContent-Length: 0\n\n"
    );
    let out = lab.deliver_bytes(phone, local_for(phone), &crlf(&text));
    assert_eq!(
        out.len(),
        1,
        "REGISTER forwarded: {out:?} {:?}",
        lab.proxy.counters()
    );
    let s = out[0].sent();
    // The registrar's 200 comes back in the family it was sent in and reaches the phone.
    let ok = format!(
        "SIP/2.0 200 OK\nVia: {}\nVia: SIP/2.0/UDP {contact_host}:5060;branch=z9hG4bKreg1\nFrom: <sip:{user}@example.com>;tag=r1\nTo: <sip:{user}@example.com>;tag=p1\nCall-ID: reg-{user}@x\nCSeq: 1 REGISTER\nContact: {};expires=3600\nContent-Length: 0\n\n",
        s.headers("Via")[0],
        s.header("Contact").unwrap()
    );
    let wan_local = if out[0].to.is_ipv4() { O } else { O6 };
    let back = lab.deliver_bytes(&out[0].to.to_string(), wan_local, &crlf(&ok));
    assert_eq!(
        back.len(),
        1,
        "200 to the phone: {back:?} {ok} {:?}",
        lab.proxy.counters()
    );
    let p = sa(phone);
    let p = SocketAddr::new(p.ip().to_canonical(), p.port());
    assert_eq!(
        (back[0].to, back[0].from),
        (p, ip(local_for(&p.to_string())))
    );
    out[0].clone()
}

/// The LAN address a phone talks to (of its family).
fn local_for(phone: &str) -> &'static str {
    if sa(phone).is_ipv4() {
        I
    } else {
        I6
    }
}

fn text(m: &RawSent) -> String {
    String::from_utf8_lossy(&m.bytes).into_owned()
}

/// No LAN address of either family in a message towards the Internet.
fn no_lan_address(m: &RawSent) {
    // The phone's own Via stays (as in siproxd; tests/proxy_leaks.rs): the rest is checked.
    let t: String = text(m)
        .lines()
        .filter(|l| !l.starts_with("Via:"))
        .collect::<Vec<_>>()
        .join("\n");
    for lan in ["192.168.", "fd00:", "[fd00", "::ffff:192.168"] {
        assert!(!t.contains(lan), "{lan} leaks to the WAN:\n{t}");
    }
}

fn sdp_of(family: &str, addr: &str, port: u16) -> String {
    format!("v=0\no=- 1 1 IN {family} {addr}\ns=-\nc=IN {family} {addr}\nt=0 0\nm=audio {port} RTP/AVP 0\na=rtpmap:0 PCMU/8000\n")
}

/// A call from the LAN phone `phone` (SDP in its own family) to a provider; returns the
/// forwarded INVITE and the 200 forwarded back to the phone.
fn call_out(
    lab: &mut Lab,
    phone: &str,
    provider: &str,
    provider_media: &str,
) -> (RawSent, RawSent) {
    let p = sa(phone);
    let (fam, host) = match p.ip() {
        IpAddr::V4(a) => ("IP4", a.to_string()),
        IpAddr::V6(a) => ("IP6", a.to_string()),
    };
    let via_host = uri(p.ip());
    let inv = request(
        "INVITE sip:bob@example.com SIP/2.0",
        &format!("Via: SIP/2.0/UDP {via_host}:5060;branch=z9hG4bKinv1\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>\nCall-ID: call1@x\nCSeq: 1 INVITE\nContact: <sip:alice@{via_host}:5060>\n"),
        &sdp_of(fam, &host, 40000),
    );
    let out = lab.deliver_bytes(phone, local_for(phone), &crlf(&inv));
    assert_eq!(out.len(), 1, "INVITE forwarded: {out:?}");
    let fwd = out[0].clone();
    let pm: IpAddr = provider_media.parse().unwrap();
    let pfam = if pm.is_ipv4() { "IP4" } else { "IP6" };
    let ok = format!(
        "SIP/2.0 200 OK\n{}Via: SIP/2.0/UDP {via_host}:5060;branch=z9hG4bKinv1\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>;tag=b1\nCall-ID: {}\nCSeq: 1 INVITE\nContact: <sip:bob@{}:5060>\nContent-Type: application/sdp\nContent-Length: {}\n\n{}",
        fwd.sent().headers("Via").first().map(|v| format!("Via: {v}\n")).unwrap(),
        fwd.sent().header("Call-ID").unwrap(),
        uri(pm),
        crlf(&sdp_of(pfam, provider_media, 50000)).len(),
        sdp_of(pfam, provider_media, 50000),
    );
    let wan_local = if sa(provider).is_ipv4() { O } else { O6 };
    let back = lab.deliver_bytes(provider, wan_local, &crlf(&ok));
    assert_eq!(
        back.len(),
        1,
        "200 forwarded: {back:?} {:?}",
        lab.proxy.counters()
    );
    (fwd, back[0].clone())
}

fn uri(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}

/// The relayed RTP of the call flows both ways, each leg in its side's family.
fn rtp_both_ways(lab: &mut Lab, phone_media: SocketAddr, provider_media: SocketAddr) {
    let now = lab.now;
    let halves: Vec<_> = lab
        .media
        .table
        .halves()
        .map(|(s, h)| (s, h.local(), h.remote()))
        .collect();
    assert_eq!(halves.len(), 2, "one half per side: {halves:?}");
    for (slot, local, remote) in &halves {
        // Each half's socket is in the family of its own side, its remote the other side's.
        let (src, dst) = if *remote == phone_media {
            (provider_media, phone_media)
        } else {
            assert_eq!(*remote, provider_media);
            (phone_media, provider_media)
        };
        assert_eq!(
            local.is_ipv4(),
            src.is_ipv4(),
            "half on {local} receives from {src}"
        );
        match lab.media.table.on_packet(now, Token::rtp(*slot), src, 172) {
            Verdict::Forward { out, dst: to } => {
                assert_eq!(to, dst);
                let out_local = halves.iter().find(|h| Token::rtp(h.0) == out).unwrap().1;
                assert_eq!(
                    out_local.is_ipv4(),
                    dst.is_ipv4(),
                    "sent from {out_local} to {dst}"
                );
            }
            v => panic!("packet from {src} on {local}: {v:?}"),
        }
    }
}

#[test]
fn ipv4_phone_to_ipv6_provider() {
    let mut lab = dual_lab("2001:db8::21", |_| {});
    let reg = register_from(&mut lab, A, "192.168.1.10");
    assert_eq!(reg.to, sa("[2001:db8::21]:5060"));
    assert_eq!(reg.from, ip(O6));
    no_lan_address(&reg);
    let s = reg.sent();
    assert!(
        s.headers("Via")[0].starts_with("SIP/2.0/UDP [2001:db8::5]:5060;"),
        "{s:?}"
    );
    assert!(
        s.header("Contact").unwrap().contains("@[2001:db8::5]"),
        "{s:?}"
    );
    let (inv, ok) = call_out(&mut lab, A, "[2001:db8::21]:5060", "2001:db8::99");
    no_lan_address(&inv);
    let body = inv.sent().body().to_string();
    assert!(
        body.contains("c=IN IP6 2001:db8::5\r\n")
            && body.contains("o=- 1 1 IN IP6 2001:db8::5\r\n"),
        "{body}"
    );
    // Back on the LAN, the answer is in the phone's family.
    let body = ok.sent().body().to_string();
    assert!(
        body.contains("c=IN IP4 192.168.1.1\r\n") && body.contains("IN IP4 192.168.1.1\r\n"),
        "{body}"
    );
    assert!(!body.contains("IP6"), "{body}");
    rtp_both_ways(
        &mut lab,
        sa("192.168.1.10:40000"),
        sa("[2001:db8::99]:50000"),
    );
}

#[test]
fn ipv6_phone_to_ipv4_provider() {
    let mut lab = dual_lab("198.51.100.21", |_| {});
    let reg = register_from(&mut lab, A6, "[fd00::10]");
    assert_eq!((reg.to, reg.from), (sa("198.51.100.21:5060"), ip(O)));
    no_lan_address(&reg);
    assert!(reg.sent().headers("Via")[0].starts_with("SIP/2.0/UDP 203.0.113.5:5060;"));
    let (inv, ok) = call_out(&mut lab, A6, "198.51.100.21:5060", "198.51.100.99");
    no_lan_address(&inv);
    assert!(inv.sent().body().contains("c=IN IP4 203.0.113.5\r\n"));
    assert_eq!((ok.to, ok.from), (sa(A6), ip(I6)));
    assert!(
        ok.sent().body().contains("c=IN IP6 fd00::1\r\n"),
        "{:?}",
        ok.sent().body()
    );
    rtp_both_ways(&mut lab, sa("[fd00::10]:40000"), sa("198.51.100.99:50000"));
}

#[test]
fn ipv6_phone_to_ipv6_provider_and_the_call_back() {
    let mut lab = dual_lab("2001:db8::21", |_| {});
    register_from(&mut lab, A6, "[fd00::10]");
    let (inv, ok) = call_out(&mut lab, A6, "[2001:db8::21]:5060", "2001:db8::99");
    assert_eq!((inv.to, inv.from), (sa("[2001:db8::21]:5060"), ip(O6)));
    no_lan_address(&inv);
    // Our Record-Route towards the phone is on the LAN's IPv6 address.
    assert!(ok.sent().body().contains("c=IN IP6 fd00::1\r\n"));
    rtp_both_ways(&mut lab, sa("[fd00::10]:40000"), sa("[2001:db8::99]:50000"));
}

#[test]
fn outbound_family_picks_the_family_of_a_dual_stack_name() {
    // Follow (0): the provider's name is known with both families; the WAN side's primary
    // address is IPv4, so IPv4.
    let mut lab = dual_lab("both.example.net", |_| {});
    let reg = register_from(&mut lab, A, "192.168.1.10");
    assert_eq!((reg.to, reg.from), (sa("198.51.100.22:5060"), ip(O)));
    // 6: IPv6 whenever the name has an IPv6 address.
    let mut lab = dual_lab("both.example.net", |c| c.outbound_family = 6);
    let reg = register_from(&mut lab, A, "192.168.1.10");
    assert_eq!((reg.to, reg.from), (sa("[2001:db8::22]:5060"), ip(O6)));
    assert!(reg.sent().headers("Via")[0].contains("[2001:db8::5]:5060"));
    // A name with one family only is reached in that family whatever the preference.
    let mut lab = dual_lab("v6.example.net", |c| c.outbound_family = 4);
    let reg = register_from(&mut lab, A, "192.168.1.10");
    assert_eq!((reg.to, reg.from), (sa("[2001:db8::21]:5060"), ip(O6)));
}

#[test]
fn a_new_ipv6_wan_prefix_moves_the_registrations_made_over_ipv6() {
    let mut lab = dual_lab("2001:db8::21", |_| {});
    let reg = register_from(&mut lab, A, "192.168.1.10");
    assert!(reg
        .sent()
        .header("Contact")
        .unwrap()
        .contains("@[2001:db8::5]"));
    // The ISP hands out a new prefix; the IPv4 address stays.
    lab.proxy.set_addresses(Addresses {
        inbound: ip(I),
        outbound: Some(ip(O)),
        inbound_alt: Some(ip(I6)),
        outbound_alt: Some(ip("2001:db8:1::5")),
    });
    let inv = request(
        "INVITE sip:alice@[2001:db8:1::5] SIP/2.0",
        "Via: SIP/2.0/UDP [2001:db8::21]:5060;branch=z9hG4bKnp\nMax-Forwards: 70\nFrom: <sip:bob@example.com>;tag=b1\nTo: <sip:alice@example.com>\nCall-ID: np@x\nCSeq: 1 INVITE\n",
        "",
    );
    let out = lab.deliver_bytes("[2001:db8::21]:5060", "2001:db8:1::5", &crlf(&inv));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!((out[0].to, out[0].from), (sa(A), ip(I)));
    // The phone's calls now carry the masqueraded identity on the new prefix.
    let (inv, _) = call_out(&mut lab, A, V6_PROVIDER, "2001:db8::99");
    assert_eq!(inv.from, ip("2001:db8:1::5"));
    assert_eq!(
        inv.sent().header("Contact").as_deref(),
        Some("<sip:alice@[2001:db8:1::5]>")
    );
}

#[test]
fn ipv4_mapped_sources_are_the_ipv4_phone() {
    let mut lab = dual_lab("198.51.100.21", |_| {});
    register_from(&mut lab, A, "192.168.1.10");
    // The same phone seen through an IPv4-mapped socket address refreshes the same binding.
    register_from(&mut lab, "[::ffff:192.168.1.10]:5060", "192.168.1.10");
    let n: usize = lab
        .proxy
        .registry()
        .iter()
        .map(|(_, e)| e.bindings().len())
        .sum();
    assert_eq!(n, 1, "one binding, not one per spelling");
    let b = &lab.proxy.registry().iter().next().unwrap().1.bindings()[0];
    assert_eq!(b.source.ip().to_canonical(), ip("192.168.1.10"));
}

#[test]
fn acl_with_ipv6_prefixes() {
    let mut lab = dual_lab("2001:db8::21", |c| {
        c.hosts_allow_reg = Some(AclList::parse("fd00::/64").unwrap());
    });
    register_from(&mut lab, A6, "[fd00::10]");
    // A phone outside the prefix may not register: dropped and counted.
    let out = lab.deliver_bytes(
        "[fd00:1::10]:5060",
        I6,
        &crlf(&register("sip:example.com", "<sip:bob@[fd00:1::10]>", "")),
    );
    assert!(out.is_empty(), "{out:?}");
    let c = lab.proxy.counters();
    assert_eq!(
        c.dropped(siproxd_rs::proxy::DropReason::NoRegisterPermission),
        1
    );
}

// ---- RFC 5118 through the proxy ----

const RFC5118: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rfc5118/");
const V6_PROVIDER: &str = "[2001:db8::21]:5060";

fn rfc5118_names() -> Vec<(String, String)> {
    std::fs::read_to_string(format!("{RFC5118}INDEX.tsv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c[0].to_string(), c[4].to_string())
        })
        .collect()
}

/// One forwarded message to the IPv6 provider, from our IPv6 address, our Via on top in
/// brackets, nothing of the LAN in it.
fn to_v6_provider(out: &[RawSent]) -> Result<&RawSent, String> {
    let [m] = out else {
        return Err(format!("expected one forwarded message, got {out:?}"));
    };
    if (m.to, m.from) != (sa(V6_PROVIDER), ip(O6)) {
        return Err(format!("sent {} -> {}", m.from, m.to));
    }
    let via = m.sent().headers("Via")[0].clone();
    if !via.starts_with("SIP/2.0/UDP [2001:db8::5]:5060;branch=z9hG4bK") {
        return Err(format!("our Via: {via}"));
    }
    no_lan_address(m);
    Ok(m)
}

fn answered_400(out: &[RawSent]) -> Result<(), String> {
    match out {
        [m] if m.sent().status() == Some(400) && m.to == sa(A6) && m.from == ip(I6) => Ok(()),
        _ => Err(format!("expected a 400 to the phone, got {out:?}")),
    }
}

fn has(m: &RawSent, what: &str) -> Result<(), String> {
    if text(m).contains(what) {
        Ok(())
    } else {
        Err(format!("{what:?} not in\n{}", text(m)))
    }
}

#[test]
fn rfc5118_messages_are_forwarded_or_refused_as_index_says() {
    let mut lab = dual_lab("2001:db8::21", |_| {});
    register_from(&mut lab, A6, "[fd00::10]");
    register_user(&mut lab, "ted", A, "192.168.1.10");
    let mut failures = Vec::new();
    let names = rfc5118_names();
    assert_eq!(names.len(), 12);
    for (name, expectation) in names {
        let bytes = std::fs::read(format!("{RFC5118}{name}.dat")).unwrap();
        // §4.9 is an IPv4 phone seen through IPv4-mapped addresses.
        let (src, local) = if name == "ipv4-mapped-ipv6" {
            ("[::ffff:192.168.1.10]:5060", "::ffff:192.168.1.1")
        } else {
            (A6, I6)
        };
        let out = lab.deliver_bytes(src, local, &bytes);
        let r = if expectation.starts_with("reject with 400") {
            answered_400(&out)
        } else if expectation.starts_with("answer 488") {
            match &out[..] {
                [m] if m.sent().status() == Some(488) => Ok(()),
                _ => Err(format!("expected 488, got {out:?}")),
            }
        } else {
            to_v6_provider(&out).and_then(|m| match name.as_str() {
                "ipv6-good" | "port-unambiguous" | "port-ambiguous" => {
                    let line = String::from_utf8_lossy(
                        &bytes[..bytes.iter().position(|&b| b == b'\r').unwrap()],
                    )
                    .into_owned();
                    has(m, &format!("{line}\r\n"))?;
                    has(m, "Contact: \"Caller\" <sip:user@[2001:db8::5]>\r\n")
                }
                "via-received-param-with-delim" => has(
                    m,
                    "Via: SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch",
                ),
                "via-received-param-no-delim" => has(
                    m,
                    "Via: SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch",
                ),
                "ipv6-in-sdp" => {
                    has(m, "o=assistant 971731711378798081 0 IN IP6 2001:db8::5\r\n")?;
                    has(m, "c=IN IP6 2001:db8::5\r\n")?;
                    has(m, "<sip:caller@[2001:db8::5]:5060>")
                }
                "mult-ip-in-header" => {
                    let vias = m.sent().headers("Via");
                    if vias.len() == 4 && vias[3].contains("received=192.0.2.200") {
                        Ok(())
                    } else {
                        Err(format!("Vias {vias:?}"))
                    }
                }
                "mult-ip-in-sdp" => {
                    // Both streams towards the IPv6 provider on our IPv6 address; the audio's
                    // far end on the LAN is IPv4, reached from there.
                    if text(m).matches("c=IN IP6 2001:db8::5\r\n").count() != 2 {
                        return Err(format!("c= lines\n{}", text(m)));
                    }
                    let remotes: Vec<_> =
                        lab.media.table.halves().map(|(_, h)| h.remote()).collect();
                    if remotes.contains(&sa("192.0.2.1:22334"))
                        && remotes.contains(&sa("[2001:db8::1]:6024"))
                    {
                        Ok(())
                    } else {
                        Err(format!("relay remotes {remotes:?}"))
                    }
                }
                "ipv4-mapped-ipv6" => {
                    has(m, "c=IN IP6 2001:db8::5\r\n")?;
                    // The relay sends to the phone's IPv4 address, not to a mapped one.
                    let remotes: Vec<_> =
                        lab.media.table.halves().map(|(_, h)| h.remote()).collect();
                    if remotes.contains(&sa("192.0.2.2:6000"))
                        && remotes.contains(&sa("192.0.2.2:6024"))
                    {
                        Ok(())
                    } else {
                        Err(format!("relay remotes {remotes:?}"))
                    }
                }
                _ => Ok(()),
            })
        };
        if let Err(e) = r {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The nameserver's answer to `q`: AAAA 2001:db8::23 for an AAAA question, no data otherwise.
fn aaaa_only(q: &[u8]) -> Vec<u8> {
    let mut end = 12;
    while q[end] != 0 {
        end += 1 + q[end] as usize;
    }
    end += 1;
    let qtype = u16::from_be_bytes([q[end], q[end + 1]]);
    let mut m = q[..end + 4].to_vec();
    m[2] = 0x81;
    m[3] = 0x80;
    if qtype == 28 {
        m[7] = 1;
        m.extend_from_slice(&[0xC0, 12, 0, 28, 0, 1, 0, 0, 0x0E, 0x10, 0, 16]);
        m.extend_from_slice(
            &"2001:db8::23"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
    }
    m
}

#[test]
fn a_name_with_only_an_ipv6_address_is_reached_over_ipv6() {
    // decisions §3: not known yet, the first message is written for the WAN's first family
    // (IPv4) but leaves from the IPv6 address; once the name is known, it is IPv6 throughout.
    let mut lab = dual_lab("v6only.example.net", |_| {});
    let reg = register("sip:example.com", "<sip:alice@192.168.1.10:5060>", "");
    assert!(
        lab.deliver_bytes(A, I, &crlf(&reg)).is_empty(),
        "waits for DNS"
    );
    let queries = lab.take_dns();
    assert_eq!(queries.len(), 2, "A and AAAA asked");
    for (ns, q) in queries {
        let now = lab.now;
        lab.proxy.handle_dns(now, ns, &aaaa_only(&q));
    }
    let out = lab.take_raw();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        (out[0].to, out[0].from),
        (sa("[2001:db8::23]:5060"), ip(O6))
    );
    // The phone's retransmission: written for IPv6 now.
    let out = lab.deliver_bytes(A, I, &crlf(&reg));
    assert_eq!(
        (out[0].to, out[0].from),
        (sa("[2001:db8::23]:5060"), ip(O6))
    );
    let s = out[0].sent();
    assert!(
        s.headers("Via")[0].starts_with("SIP/2.0/UDP [2001:db8::5]:5060;"),
        "{s:?}"
    );
    assert_eq!(
        s.header("Contact").as_deref(),
        Some("<sip:alice@[2001:db8::5]>")
    );
}

#[test]
fn a_phone_signalling_over_ipv6_with_ipv4_media_is_relayed_from_the_lans_ipv4_address() {
    // A dual-stack phone registers and calls over IPv6 but offers IPv4 media; the provider
    // answers in IPv6. The provider's side of the relay is IPv6; the phone's side binds in
    // the family of the phone's media (IPv4), whatever it signals over.
    let mut lab = dual_lab("2001:db8::21", |_| {});
    register_from(&mut lab, A6, "[fd00::10]");
    let inv = request(
        "INVITE sip:bob@example.com SIP/2.0",
        "Via: SIP/2.0/UDP [fd00::10]:5060;branch=z9hG4bKmix\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>\nCall-ID: mix@x\nCSeq: 1 INVITE\nContact: <sip:alice@[fd00::10]:5060>\n",
        &sdp_of("IP4", "192.168.1.10", 40000),
    );
    let out = lab.deliver_bytes(A6, I6, &crlf(&inv));
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(out[0].sent().body().contains("c=IN IP6 2001:db8::5\r\n"));
    let s = out[0].sent();
    let ok = request(
        "SIP/2.0 200 OK",
        &format!(
            "Via: {}\nVia: {}\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>;tag=b1\nCall-ID: {}\nCSeq: 1 INVITE\nContact: <sip:bob@[2001:db8::21]>\n",
            s.headers("Via")[0],
            s.headers("Via")[1],
            s.header("Call-ID").unwrap()
        ),
        &sdp_of("IP6", "2001:db8::99", 50000),
    );
    let back = lab.deliver_bytes(V6_PROVIDER, O6, &crlf(&ok));
    assert_eq!(back.len(), 1, "{back:?}");
    assert_eq!(back[0].to, sa(A6));
    let body = back[0].sent().body().to_string();
    assert!(body.contains("c=IN IP4 192.168.1.1\r\n"), "{body}");
    rtp_both_ways(
        &mut lab,
        sa("192.168.1.10:40000"),
        sa("[2001:db8::99]:50000"),
    );
}
