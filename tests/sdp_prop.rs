//! Property tests: generated valid SDP parses to what was generated, emits identically, and
//! the relay rewrite reparses to the relay's values; arbitrary bytes never panic.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test helpers: a failed set-up panics, as a test should

use proptest::prelude::*;
use siproxd_rs::sdp::{rewrite_for_relay, MediaDirection, Rewriter, Sdp, Section, StreamRewrite};
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone)]
struct GenMedia {
    kind: &'static str,
    port: u16,
    count: Option<u16>,
    proto: &'static str,
    formats: Vec<u8>,
    conn: Option<IpAddr>,
    rtcp: Option<(u16, Option<IpAddr>)>,
    mux: bool,
    direction: Option<MediaDirection>,
    candidates: usize,
}

#[derive(Debug, Clone)]
struct GenSdp {
    eol: &'static str,
    terminated: bool,
    origin: IpAddr,
    conn: Option<IpAddr>,
    ice_session: bool,
    media: Vec<GenMedia>,
    /// Session-level direction attribute.
    direction: Option<MediaDirection>,
    /// Multicast `/ttl` on every IPv4 `c=`.
    ttl: Option<u8>,
    /// An `i=` title after every `m=` (an added `c=` goes after it).
    titles: bool,
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        any::<[u16; 8]>().prop_map(|s| IpAddr::V6(Ipv6Addr::from(s))),
    ]
}

fn direction() -> impl Strategy<Value = Option<MediaDirection>> {
    proptest::option::of(prop_oneof![
        Just(MediaDirection::SendRecv),
        Just(MediaDirection::SendOnly),
        Just(MediaDirection::RecvOnly),
        Just(MediaDirection::Inactive),
    ])
}

fn media() -> impl Strategy<Value = GenMedia> {
    (
        prop_oneof![Just("audio"), Just("video"), Just("text")],
        any::<u16>(),
        proptest::option::of(1u16..8),
        prop_oneof![Just("RTP/AVP"), Just("RTP/SAVP"), Just("UDP/TLS/RTP/SAVPF")],
        proptest::collection::vec(0u8..128, 1..6),
        proptest::option::of(ip()),
        proptest::option::of((any::<u16>(), proptest::option::of(ip()))),
        any::<bool>(),
        direction(),
        0usize..3,
    )
        .prop_map(
            |(kind, port, count, proto, formats, conn, rtcp, mux, direction, candidates)| {
                GenMedia {
                    kind,
                    port,
                    count,
                    proto,
                    formats,
                    conn,
                    rtcp,
                    mux,
                    direction,
                    candidates,
                }
            },
        )
}

fn sdp() -> impl Strategy<Value = GenSdp> {
    (
        prop_oneof![Just("\r\n"), Just("\n")],
        any::<bool>(),
        ip(),
        proptest::option::of(ip()),
        any::<bool>(),
        proptest::collection::vec(media(), 0..5),
        direction(),
        proptest::option::of(any::<u8>()),
        any::<bool>(),
    )
        .prop_map(
            |(eol, terminated, origin, conn, ice_session, media, direction, ttl, titles)| GenSdp {
                eol,
                terminated,
                origin,
                conn,
                ice_session,
                media,
                direction,
                ttl,
                titles,
            },
        )
}

fn addr(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => format!("IP4 {a}"),
        IpAddr::V6(a) => format!("IP6 {a}"),
    }
}

/// `c=` value: the address with the generated `/ttl` when it is IPv4.
fn conn(ip: IpAddr, ttl: Option<u8>) -> String {
    match (ip, ttl) {
        (IpAddr::V4(_), Some(t)) => format!("c=IN {}/{t}", addr(ip)),
        _ => format!("c=IN {}", addr(ip)),
    }
}

/// The `/ttl` suffix `conn` writes for `ip`.
fn ttl_of(ip: IpAddr, ttl: Option<u8>) -> Option<Vec<u8>> {
    ttl.filter(|_| ip.is_ipv4())
        .map(|t| t.to_string().into_bytes())
}

fn dir_name(d: MediaDirection) -> &'static str {
    match d {
        MediaDirection::SendRecv => "sendrecv",
        MediaDirection::SendOnly => "sendonly",
        MediaDirection::RecvOnly => "recvonly",
        MediaDirection::Inactive => "inactive",
    }
}

fn render(g: &GenSdp) -> Vec<u8> {
    let mut lines = vec![
        "v=0".to_string(),
        format!("o=- 123 456 IN {}", addr(g.origin)),
        "s=-".to_string(),
    ];
    if let Some(c) = g.conn {
        lines.push(conn(c, g.ttl));
    }
    lines.push("t=0 0".to_string());
    if g.ice_session {
        lines.push("a=ice-ufrag:abcd".to_string());
        lines.push("a=ice-pwd:0123456789abcdef0123".to_string());
    }
    if let Some(d) = g.direction {
        lines.push(format!("a={}", dir_name(d)));
    }
    for m in &g.media {
        let mut l = format!("m={} {}", m.kind, m.port);
        if let Some(n) = m.count {
            write!(l, "/{n}").unwrap();
        }
        write!(l, " {}", m.proto).unwrap();
        for f in &m.formats {
            write!(l, " {f}").unwrap();
        }
        lines.push(l);
        if g.titles {
            lines.push("i=a title".to_string());
        }
        if let Some(c) = m.conn {
            lines.push(conn(c, g.ttl));
        }
        for f in &m.formats {
            lines.push(format!("a=rtpmap:{f} X{f}/8000"));
        }
        if let Some((p, a)) = m.rtcp {
            match a {
                Some(a) => lines.push(format!("a=rtcp:{p} IN {}", addr(a))),
                None => lines.push(format!("a=rtcp:{p}")),
            }
        }
        if m.mux {
            lines.push("a=rtcp-mux".to_string());
        }
        for k in 0..m.candidates {
            lines.push(format!(
                "a=candidate:{k} 1 UDP 2130706431 10.0.0.{k} {} typ host",
                1000 + k
            ));
        }
        if let Some(d) = m.direction {
            lines.push(format!("a={}", dir_name(d)));
        }
    }
    let mut s = lines.join(g.eol);
    if g.terminated {
        s.push_str(g.eol);
    }
    s.into_bytes()
}

/// 400 cases per run; `PROPTEST_CASES` asks for more (`with_cases` alone would ignore it).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(400)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn generated_sdp_parses_and_round_trips(g in sdp()) {
        let body = render(&g);
        let sdp = Sdp::parse(&body).unwrap();
        prop_assert_eq!(sdp.origin().unwrap().address.ip, Some(g.origin));
        prop_assert_eq!(sdp.connection().and_then(|c| c.ip), g.conn);
        if let Some(c) = g.conn {
            prop_assert_eq!(sdp.connection().unwrap().suffix.map(<[u8]>::to_vec), ttl_of(c, g.ttl));
        }
        prop_assert_eq!(sdp.media_count(), g.media.len());
        for (i, m) in g.media.iter().enumerate() {
            let v = sdp.media(i).unwrap();
            prop_assert_eq!(v.media, m.kind.as_bytes());
            prop_assert_eq!((v.port, v.port_count), (m.port, m.count.unwrap_or(1)));
            prop_assert_eq!(v.format_list().count(), m.formats.len());
            let s = sdp.stream(i).unwrap();
            prop_assert_eq!(s.address.and_then(|a| a.ip), m.conn.or(g.conn));
            let rtcp = m.rtcp.map(|r| r.0).or(m.port.checked_add(1));
            prop_assert_eq!(s.rtcp_port, rtcp);
            prop_assert_eq!(s.rtcp_mux, m.mux);
            prop_assert_eq!(s.direction, m.direction.or(g.direction).unwrap_or(MediaDirection::SendRecv));
            prop_assert_eq!(s.disabled, m.port == 0);
            prop_assert_eq!(sdp.ice(Section::Media(i)).candidates, m.candidates);
        }
        let rw = Rewriter::new(&sdp);
        let mut out = vec![0u8; body.len()];
        prop_assert_eq!(rw.emit(&mut out), Ok(body.len()));
        prop_assert_eq!(&out, &body);
    }

    #[test]
    fn relay_rewrite_reparses_to_relay_values(
        g in sdp(),
        session in ip(),
        relays in proptest::collection::vec((ip(), 1u16..65000, proptest::option::of(1u16..65000)), 5),
        strip_ice in any::<bool>(),
    ) {
        let body = render(&g);
        let sdp = Sdp::parse(&body).unwrap();
        let streams: Vec<StreamRewrite> = relays[..g.media.len()]
            .iter()
            .map(|&(address, rtp_port, rtcp_port)| StreamRewrite { address, rtp_port, rtcp_port })
            .collect();
        let mut out = vec![0u8; body.len() + 2048];
        let missing_c = g.conn.is_none() && g.media.iter().any(|m| m.port != 0 && m.conn.is_none());
        let r = rewrite_for_relay(&sdp, session, &streams, strip_ice, &mut out);
        if missing_c {
            prop_assert!(r.is_err());
            return Ok(());
        }
        let n = r.unwrap();
        let re = Sdp::parse(&out[..n]).unwrap();
        prop_assert!(!has_blank_line(&out[..n]), "blank line in {:?}", String::from_utf8_lossy(&out[..n]));
        prop_assert_eq!(re.origin().unwrap().address.ip, Some(session));
        if strip_ice {
            prop_assert!(re.ice(Section::Session).is_empty());
        } else {
            prop_assert_eq!(re.ice(Section::Session), sdp.ice(Section::Session));
        }
        let want_c = g.conn.map(|c| if c.is_unspecified() { c } else { session });
        prop_assert_eq!(re.connection().and_then(|c| c.ip), want_c);
        if let Some(c) = g.conn {
            // A replaced address loses its multicast suffix; a kept hold address keeps it.
            let want = if c.is_unspecified() { ttl_of(c, g.ttl) } else { None };
            prop_assert_eq!(re.connection().unwrap().suffix.map(<[u8]>::to_vec), want);
        }
        for (i, (m, s)) in g.media.iter().zip(&streams).enumerate() {
            let (old, new) = (sdp.stream(i).unwrap(), re.stream(i).unwrap());
            if m.port == 0 {
                // Not relayed, but a specified address of its own is replaced (no private
                // address leaves in a disabled stream), and its ICE lines go with the rest.
                prop_assert_eq!(new.port, 0);
                let want = old_media_conn(&sdp, i)
                    .map(|c| if c.is_unspecified() { c.ip } else { Some(session) });
                prop_assert_eq!(re.media(i).unwrap().connection.map(|c| c.ip), want);
                if strip_ice {
                    prop_assert!(re.ice(Section::Media(i)).is_empty());
                } else {
                    prop_assert_eq!(re.ice(Section::Media(i)), sdp.ice(Section::Media(i)));
                }
                continue;
            }
            prop_assert_eq!(new.port, s.rtp_port);
            prop_assert_eq!(new.port_count, old.port_count);
            let old_ip = old.address.unwrap().ip.unwrap();
            let want = if old_ip.is_unspecified() { old_ip } else { s.address };
            prop_assert_eq!(new.address.unwrap().ip, Some(want));
            if let Some(c) = m.conn {
                let want = if c.is_unspecified() { ttl_of(c, g.ttl) } else { None };
                prop_assert_eq!(new.address.unwrap().suffix.map(<[u8]>::to_vec), want);
            }
            if !m.mux || m.rtcp.is_some() {
                prop_assert_eq!(new.rtcp_port, Some(s.rtcp_port.unwrap_or(s.rtp_port + 1)));
            }
            if let Some((_, Some(a))) = m.rtcp {
                let want = if a.is_unspecified() { a } else { s.address };
                let got = re.media(i).unwrap().rtcp.unwrap().address.unwrap().ip;
                prop_assert_eq!(got, Some(want));
            }
            if strip_ice {
                prop_assert!(re.ice(Section::Media(i)).is_empty());
            } else {
                prop_assert_eq!(re.ice(Section::Media(i)), sdp.ice(Section::Media(i)));
            }
            // A section's c= (own or added) comes right after m= and its title (RFC 8866 order).
            let m_line = (0..re.line_count())
                .filter(|&k| re.line(k).unwrap().0 == b'm')
                .nth(i)
                .unwrap();
            if g.titles {
                prop_assert_eq!(re.line(m_line + 1).unwrap(), (b'i', &b"a title"[..]));
            }
            if re.media(i).unwrap().connection.is_some() {
                let c_line = m_line + 1 + usize::from(g.titles);
                prop_assert_eq!(re.line(c_line).unwrap().0, b'c');
            }
            prop_assert_eq!(new.direction, old.direction);
            prop_assert_eq!(re.media(i).unwrap().format_list().count(), m.formats.len());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        exercise(&bytes);
    }

    #[test]
    fn mutated_valid_sdp_never_panics(
        g in sdp(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let mut body = render(&g);
        for (at, b) in edits {
            if !body.is_empty() {
                let i = at % body.len();
                body[i] = b;
            }
        }
        // A body cut anywhere, e.g. between the CR and LF of its last line.
        if let Some(at) = cut {
            body.truncate(at % (body.len() + 1));
        }
        exercise(&body);
    }
}

/// The generator writes no blank lines, so the rewrite must not create one.
fn has_blank_line(body: &[u8]) -> bool {
    let mut with_start = b"\n".to_vec();
    with_start.extend_from_slice(body);
    with_start.windows(2).any(|w| w == b"\n\n") || with_start.windows(3).any(|w| w == b"\n\r\n")
}

fn old_media_conn<'a>(sdp: &Sdp<'a>, i: usize) -> Option<siproxd_rs::sdp::Address<'a>> {
    sdp.media(i).unwrap().connection
}

/// Every read and edit path on a body that may or may not parse; what an edit claims to have
/// done must be what the output reparses to.
fn exercise(bytes: &[u8]) {
    let Ok(sdp) = Sdp::parse(bytes) else { return };
    let mut out = vec![0u8; bytes.len() + 4096];
    let rw = Rewriter::new(&sdp);
    assert_eq!(rw.emit(&mut out), Ok(bytes.len()));
    assert_eq!(&out[..bytes.len()], bytes);
    for i in 0..sdp.media_count() {
        let _ = sdp.stream(i);
        let _ = sdp.rtpmaps(i).count();
        let _ = sdp.payload_types_matching(i, b"pcm").count();
        let mut rw = Rewriter::new(&sdp);
        let pts: Vec<&[u8]> = sdp.media(i).unwrap().format_list().collect();
        let removed = pts
            .iter()
            .filter(|pt| rw.remove_payload_type(i, pt).is_ok())
            .count();
        let n = rw.emit(&mut out).unwrap();
        let re = Sdp::parse(&out[..n]).unwrap();
        let left = re.media(i).unwrap().format_list().count();
        assert_eq!(
            left,
            pts.len() - removed,
            "{:?}",
            String::from_utf8_lossy(&out[..n])
        );
    }
    let _ = sdp.ice(Section::Session);
    let session = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));
    // Odd sections get another address (a c= may be added) and a far RTCP port (a=rtcp: may be).
    let streams: Vec<StreamRewrite> = (0..sdp.media_count())
        .map(|i| StreamRewrite {
            address: if i % 2 == 1 {
                IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2))
            } else {
                session
            },
            rtp_port: 30000 + i as u16 * 2,
            rtcp_port: (i % 2 == 1).then_some(40001 + i as u16 * 2),
        })
        .collect();
    let Ok(n) = rewrite_for_relay(&sdp, session, &streams, true, &mut out) else {
        return;
    };
    let text = String::from_utf8_lossy(&out[..n]).into_owned();
    let re = Sdp::parse(&out[..n]).unwrap();
    assert_eq!(re.media_count(), sdp.media_count(), "{text:?}");
    for (i, s) in streams.iter().enumerate() {
        let (old, new) = (sdp.stream(i).unwrap(), re.stream(i).unwrap());
        if old.disabled {
            // Not relayed; only a specified address of its own is replaced (no leak).
            assert_eq!(new.port, 0, "{text:?}");
            if let Some(c) = sdp.media(i).unwrap().connection {
                let want = if c.is_unspecified() {
                    c.ip
                } else {
                    Some(session)
                };
                assert_eq!(
                    re.media(i).unwrap().connection.unwrap().ip,
                    want,
                    "{text:?}"
                );
            }
            continue;
        }
        assert_eq!(new.port, s.rtp_port, "{text:?}");
        let old_address = old.address.unwrap();
        let want = if old_address.is_unspecified() {
            old_address.ip
        } else {
            Some(s.address)
        };
        assert_eq!(new.address.unwrap().ip, want, "{text:?}");
        if !old.rtcp_mux || sdp.media(i).unwrap().rtcp.is_some() {
            let rtcp = s.rtcp_port.unwrap_or(s.rtp_port + 1);
            assert_eq!(new.rtcp_port, Some(rtcp), "{text:?}");
        }
        assert!(re.ice(Section::Media(i)).is_empty(), "{text:?}");
    }
}
