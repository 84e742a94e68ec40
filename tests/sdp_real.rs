//! SDP bodies of real user agents (tests/data/real): parsing, identity emission,
//! ICE removal and the relay rewrite.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test helpers: a failed set-up panics, as a test should

use siproxd_rs::sdp::{
    rewrite_for_relay, AddrType, MediaDirection, Rewriter, Sdp, Section, StreamRewrite,
};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

const REAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/real");
const PUBLIC: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 77));

/// The headers and body of a SIP message, split at the first blank line.
fn split(msg: &[u8]) -> (&[u8], &[u8]) {
    let i = msg
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no end of headers");
    (&msg[..i], &msg[i + 4..])
}

fn is_sdp(headers: &[u8]) -> bool {
    headers.split(|&b| b == b'\n').any(|h| {
        let h = String::from_utf8_lossy(h).to_ascii_lowercase();
        let h = h.trim_end();
        (h.starts_with("content-type:") || h.starts_with("c:"))
            && h.split_once(':').unwrap().1.trim() == "application/sdp"
    })
}

/// (file name, body) of every message with an SDP body.
fn sdp_bodies() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(REAL)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sip"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 30, "testdata/real changed");
    files
        .into_iter()
        .filter_map(|p| {
            let msg = std::fs::read(&p).unwrap();
            let (h, b) = split(&msg);
            is_sdp(h).then(|| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    b.to_vec(),
                )
            })
        })
        .collect()
}

fn body(name: &str) -> Vec<u8> {
    let msg = std::fs::read(format!("{REAL}/{name}")).unwrap();
    split(&msg).1.to_vec()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn relay_all(sdp: &Sdp<'_>, strip_ice: bool) -> Vec<u8> {
    let streams: Vec<StreamRewrite> = (0..sdp.media_count())
        .map(|i| StreamRewrite {
            address: PUBLIC,
            rtp_port: 40000 + 2 * i as u16,
            rtcp_port: None,
        })
        .collect();
    let mut out = vec![0u8; 8192];
    let n = rewrite_for_relay(sdp, PUBLIC, &streams, strip_ice, &mut out).unwrap();
    out.truncate(n);
    out
}

/// Addresses a NAT hides: RFC 1918, loopback, link-local.
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_private() || a.is_loopback() || a.is_link_local(),
        IpAddr::V6(a) => a.is_loopback() || (a.segments()[0] & 0xffc0) == 0xfe80,
    }
}

#[test]
fn every_real_body_parses_and_emits_identically() {
    let bodies = sdp_bodies();
    assert_eq!(bodies.len(), 12);
    for (name, b) in &bodies {
        let sdp = Sdp::parse(b).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(sdp.media_count() >= 1, "{name}");
        let rw = Rewriter::new(&sdp);
        let mut out = vec![0u8; b.len()];
        assert_eq!(rw.emit(&mut out).unwrap(), b.len(), "{name}");
        assert_eq!(&out, b, "{name}");
    }
}

#[test]
fn relay_rewrite_leaves_no_private_address() {
    let mut bodies_with_private = 0;
    for (name, b) in &sdp_bodies() {
        let sdp = Sdp::parse(b).unwrap();
        let mut private: Vec<String> = Vec::new();
        let mut note = |ip: Option<IpAddr>| {
            if let Some(ip) = ip.filter(|ip| is_private(*ip)) {
                private.push(ip.to_string());
            }
        };
        note(sdp.origin().and_then(|o| o.address.ip));
        note(sdp.connection().and_then(|c| c.ip));
        for (i, m) in sdp.media_sections().enumerate() {
            note(m.connection.and_then(|c| c.ip));
            for c in sdp.candidates(Section::Media(i)) {
                let addr = c.split(|&b| b == b' ').nth(4).unwrap();
                note(std::str::from_utf8(addr).unwrap().parse().ok());
            }
        }
        bodies_with_private += usize::from(!private.is_empty());
        let out = relay_all(&sdp, true);
        let out_text = text(&out);
        for p in &private {
            // Addresses as written in the body (IPv6 may be written uncompressed).
            assert!(
                !out_text.contains(p.as_str()),
                "{name}: {p} left in\n{out_text}"
            );
        }
        for h in [
            sdp.origin().map(|o| o.address.host),
            sdp.connection().map(|c| c.host),
        ]
        .into_iter()
        .flatten()
        {
            let h = text(h);
            if h.parse::<IpAddr>().is_ok_and(is_private) {
                assert!(!out_text.contains(&h), "{name}: {h} left in");
            }
        }
        let re = Sdp::parse(&out).unwrap();
        assert_eq!(re.media_count(), sdp.media_count());
        assert_eq!(re.origin().unwrap().address.ip, Some(PUBLIC), "{name}");
        for i in 0..re.media_count() {
            let (old, new) = (sdp.stream(i).unwrap(), re.stream(i).unwrap());
            assert_eq!(new.port, 40000 + 2 * i as u16, "{name}");
            assert_eq!(new.rtcp_port, Some(40001 + 2 * i as u16), "{name}");
            assert_eq!(new.direction, old.direction, "{name}");
            let want = if old.address.unwrap().is_unspecified() {
                old.address.unwrap().ip
            } else {
                Some(PUBLIC)
            };
            assert_eq!(new.address.unwrap().ip, want, "{name}");
            assert!(re.ice(Section::Media(i)).is_empty(), "{name}");
        }
        assert!(re.ice(Section::Session).is_empty(), "{name}");
    }
    // alcatel (2), nero (2), xlite, sipjs, valid8 carry private addresses.
    assert_eq!(bodies_with_private, 7);
}

#[test]
fn alcatel_hold_keeps_zero_address_and_gets_relay_port() {
    let b = body("alcatel8001-reinvite-hold.sip");
    let sdp = Sdp::parse(&b).unwrap();
    let s = sdp.stream(0).unwrap();
    assert!(s.address.unwrap().is_unspecified());
    assert_eq!(s.direction, MediaDirection::SendOnly);
    assert!(s.is_hold && !s.disabled);
    assert_eq!((s.port, s.rtcp_port), (10014, Some(10015)));
    let out = text(&relay_all(&sdp, true));
    let want = text(&b)
        .replace("8001 IN IP4 0.0.0.0", "8001 IN IP4 203.0.113.77")
        .replace("m=audio 10014 ", "m=audio 40000 ");
    assert_eq!(out, want);
    assert!(out.contains("c=IN IP4 0.0.0.0\r\n") && out.contains("a=sendonly\r\n"));
}

#[test]
fn valid8_ipv6_connection() {
    let b = body("valid8-invite-ipv6.sip");
    let sdp = Sdp::parse(&b).unwrap();
    let c = sdp.connection().unwrap();
    assert_eq!(c.addr_type, AddrType::Ip6);
    assert_eq!(c.ip, Some("fe80::21a:a0ff:fe07:32e0".parse().unwrap()));
    assert_eq!(sdp.origin().unwrap().address.addr_type, AddrType::Ip6);
    assert_eq!(sdp.stream(0).unwrap().address.unwrap().host, c.host);
    assert_eq!(sdp.rtpmap(0, b"0").unwrap().encoding, b"pcmu");
    let out = text(&relay_all(&sdp, false));
    assert!(out.contains("o=Valid8.com-UserAgent 8521 32 IN IP4 203.0.113.77\r\n"));
    assert!(out.contains("c=IN IP4 203.0.113.77\r\n"));
    assert!(!out.contains("IP6") && !out.contains("fe80"));
    // And to an IPv6 relay address.
    let v6: IpAddr = "2001:db8::7".parse().unwrap();
    let mut buf = [0u8; 512];
    let streams = [StreamRewrite {
        address: v6,
        rtp_port: 5000,
        rtcp_port: None,
    }];
    let n = rewrite_for_relay(&sdp, v6, &streams, false, &mut buf).unwrap();
    let re = Sdp::parse(&buf[..n]).unwrap();
    assert_eq!(re.connection().unwrap().ip, Some(v6));
    assert_eq!(re.connection().unwrap().addr_type, AddrType::Ip6);
}

/// The body without the lines whose text starts with one of `prefixes`.
fn without_lines(b: &[u8], drop: impl Fn(&str) -> bool) -> String {
    text(b)
        .split_inclusive("\r\n")
        .filter(|l| !drop(l))
        .collect()
}

fn is_ice_line(l: &str) -> bool {
    [
        "a=candidate:",
        "a=ice-",
        "a=remote-candidates",
        "a=end-of-candidates",
    ]
    .iter()
    .any(|p| l.starts_with(p))
}

#[test]
fn xlite_ice_found_and_removed_nothing_else_changed() {
    let b = body("xlite4-invite-ice.sip");
    let sdp = Sdp::parse(&b).unwrap();
    let s = sdp.ice(Section::Session);
    assert_eq!(s.ufrag, Some(&b"64f1a0"[..]));
    assert_eq!(s.pwd, Some(&b"6c3a6e332f19287d6887564731372ec9"[..]));
    assert_eq!(sdp.ice(Section::Media(0)).candidates, 2);
    let mut rw = Rewriter::new(&sdp);
    assert_eq!(rw.remove_ice(Section::Session).unwrap(), 2);
    assert_eq!(rw.remove_ice(Section::Media(0)).unwrap(), 2);
    let mut out = vec![0u8; b.len()];
    let n = rw.emit(&mut out).unwrap();
    assert_eq!(text(&out[..n]), without_lines(&b, is_ice_line));
    assert!(!text(&out[..n]).contains("candidate"));
}

#[test]
fn sipjs_ice_found_and_removed_nothing_else_changed() {
    let b = body("sipjs-invite-ice-wss.sip");
    let sdp = Sdp::parse(&b).unwrap();
    let m = sdp.media(0).unwrap();
    assert!(m.rtcp_mux);
    assert_eq!(m.rtcp.unwrap().port, 9);
    assert!(m.rtcp.unwrap().address.unwrap().is_unspecified());
    assert_eq!(m.proto, b"UDP/TLS/RTP/SAVPF");
    let ice = sdp.ice(Section::Media(0));
    assert_eq!(ice.candidates, 3);
    assert_eq!(
        (ice.ufrag, ice.pwd),
        (Some(&b"BwhA"[..]), Some(&b"rVbL92yga1wmglK0q5scQV9A"[..]))
    );
    assert_eq!(ice.options, Some(&b"trickle"[..]));
    assert!(sdp.ice(Section::Session).is_empty());
    let mut rw = Rewriter::new(&sdp);
    assert_eq!(rw.remove_ice(Section::Media(0)).unwrap(), 6);
    let mut out = vec![0u8; b.len()];
    let n = rw.emit(&mut out).unwrap();
    assert_eq!(text(&out[..n]), without_lines(&b, is_ice_line));
    // The relay rewrite with ICE stripped: rtcp follows the relay, its 0.0.0.0 stays.
    let out = text(&relay_all(&sdp, true));
    assert!(out.contains("a=rtcp:40001 IN IP4 0.0.0.0\r\n"), "{out}");
    assert!(out.contains("m=audio 40000 UDP/TLS/RTP/SAVPF 111 "));
    assert!(!out.contains("10.10.24.139") && !out.contains("69.17.142.250"));
}

#[test]
fn ekiga_both_media_sections_rewritten() {
    let b = body("ekiga-invite-audio-video.sip");
    let sdp = Sdp::parse(&b).unwrap();
    assert_eq!(sdp.media_count(), 2);
    assert_eq!(sdp.media(0).unwrap().media, b"audio");
    assert_eq!(sdp.media(1).unwrap().media, b"video");
    assert_eq!(sdp.fmtp(1, b"31"), Some(&b"CIF=1;QCIF=1"[..]));
    let out = text(&relay_all(&sdp, true));
    let want = text(&b)
        .replace("178.45.73.241", "203.0.113.77")
        .replace("m=audio 5092 ", "m=audio 40000 ")
        .replace("m=video 5094 ", "m=video 40002 ");
    assert_eq!(out, want);
}

#[test]
fn codecfilter_on_real_body() {
    let b = body("alcatel8001-invite-proxyauth.sip");
    let sdp = Sdp::parse(&b).unwrap();
    let pts: Vec<&[u8]> = sdp.payload_types_matching(0, b"g729").collect();
    assert_eq!(pts, [&b"18"[..]]);
    let mut rw = Rewriter::new(&sdp);
    for pt in pts {
        rw.remove_payload_type(0, pt).unwrap();
    }
    let mut out = vec![0u8; b.len()];
    let n = rw.emit(&mut out).unwrap();
    let want = text(&b)
        .replace("RTP/AVP 8 0 18 4 101", "RTP/AVP 8 0 4 101")
        .replace("a=rtpmap:18 G729/8000\r\n", "")
        .replace("a=fmtp:18 annexb=no\r\n", "");
    assert_eq!(text(&out[..n]), want);
}
