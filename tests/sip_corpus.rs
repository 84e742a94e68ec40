//! The SIP parser against the RFC 4475 torture messages and real user-agent captures
//! (tests/data, see its README.md).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)] // test helpers: a failed set-up panics, as a test should

use siproxd_rs::sip::*;

const RFC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rfc4475/");
const REAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/real/");

fn read(dir: &str, file: &str) -> Vec<u8> {
    std::fs::read(format!("{dir}{file}")).unwrap_or_else(|e| panic!("{dir}{file}: {e}"))
}

/// Rows of an INDEX.tsv as columns, header row skipped.
fn index(dir: &str) -> Vec<Vec<String>> {
    let text = String::from_utf8(read(dir, "INDEX.tsv")).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

fn parse_and_validate(bytes: &[u8], t: Framing) -> Result<Message<'_>, ParseError> {
    let m = Message::parse(bytes, t)?;
    m.validate()?;
    Ok(m)
}

fn outcome(bytes: &[u8]) -> Option<ProxyAction> {
    parse_and_validate(bytes, Framing::Datagram)
        .err()
        .map(|e| e.action(looks_like_request(bytes)))
}

use ParseError as E;
use ProxyAction::{Answer, Drop};

/// What each RFC 4475 message must give: `Ok` (parses and validates) or the specific error.
/// Where the RFC allows "reject or accept", we reject with 400.
const EXPECTED: &[(&str, Result<(), ParseError>)] = &[
    ("wsinv", Ok(())),
    ("intmeth", Ok(())),
    ("esc01", Ok(())),
    ("escnull", Ok(())),
    ("esc02", Ok(())),
    ("lwsdisp", Ok(())),
    ("longreq", Ok(())),
    ("dblreq", Ok(())),
    ("semiuri", Ok(())),
    ("transports", Ok(())),
    ("mpart01", Ok(())),
    ("unreason", Ok(())),
    ("noreason", Ok(())),
    ("badinv01", Err(E::BadVia)),
    (
        "clerr",
        Err(E::ContentLengthMismatch {
            declared: 9999,
            available: 154,
        }),
    ),
    ("ncl", Err(E::NegativeContentLength)),
    ("scalar02", Err(E::BadCSeq)),
    ("scalarlg", Err(E::BadCSeq)),
    ("quotbal", Err(E::BadTo)),
    ("ltgtruri", Err(E::BadRequestUri)),
    ("lwsruri", Err(E::BadRequestLine)),
    ("lwsstart", Err(E::BadRequestLine)),
    ("trws", Err(E::BadRequestLine)),
    ("escruri", Err(E::BadRequestUri)),
    ("baddate", Ok(())),
    (
        "regbadct",
        Err(E::BadHeader {
            name: HeaderName::Contact,
        }),
    ),
    ("badaspec", Err(E::BadTo)),
    ("baddn", Err(E::MissingHeaderEnd)),
    ("badvers", Err(E::BadVersion)),
    ("mismatch01", Err(E::CSeqMethodMismatch)),
    ("mismatch02", Err(E::CSeqMethodMismatch)),
    ("bigcode", Err(E::BadStatusLine)),
    ("badbranch", Err(E::BadBranch)),
    ("insuf", Err(E::MissingCallId)),
    ("unkscm", Err(E::UnsupportedScheme)),
    ("novelsc", Err(E::UnsupportedScheme)),
    ("unksm2", Ok(())),
    ("bext01", Ok(())),
    ("invut", Ok(())),
    ("regaut01", Ok(())),
    (
        "multi01",
        Err(E::DuplicateHeader {
            name: HeaderName::CSeq,
        }),
    ),
    ("mcl01", Err(E::ConflictingContentLength)),
    ("bcast", Ok(())),
    ("zeromf", Ok(())),
    ("cparam01", Ok(())),
    ("cparam02", Ok(())),
    ("regescrt", Ok(())),
    ("sdp01", Ok(())),
    ("inv2543", Ok(())),
];

#[test]
fn rfc4475_every_file_classified_as_index_says() {
    let rows = index(RFC);
    assert_eq!(rows.len(), 49);
    assert_eq!(EXPECTED.len(), rows.len());
    for row in &rows {
        let (name, validity, expectation) = (&row[0], &row[2], &row[4]);
        let bytes = read(RFC, &format!("{name}.dat"));
        assert_eq!(bytes.len().to_string(), row[5], "{name}: file size");
        let expected = EXPECTED
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} missing from EXPECTED"))
            .1;
        let got = parse_and_validate(&bytes, Framing::Datagram).map(|_| ());
        assert_eq!(got, expected, "{name}");
        let action = outcome(&bytes);
        // The action a proxy takes must be the one INDEX.tsv asks for.
        if expectation.contains("400 only if the Date matters") {
            // baddate: a proxy ignores Date and forwards.
            assert_eq!(action, None, "{name}");
        } else if expectation.starts_with("reject with 505") {
            assert_eq!(action, Some(Answer(505, "Version Not Supported")), "{name}");
        } else if expectation.starts_with("reject with 416") {
            assert_eq!(
                action,
                Some(Answer(416, "Unsupported URI Scheme")),
                "{name}"
            );
        } else if validity == "invalid"
            && (expectation.starts_with("drop the response")
                || expectation.starts_with("discard the response"))
        {
            assert_eq!(action, Some(Drop), "{name}");
        } else if expectation.contains("reject with 400") || expectation.contains("400 acceptable")
        {
            assert!(
                matches!(action, Some(Answer(400, _))),
                "{name}: {action:?} for {expectation}"
            );
        } else {
            // Forwarded, or decided by the proxy on parsed fields (420, 483, broadcast).
            assert_eq!(validity, "valid", "{name}");
            assert_eq!(action, None, "{name}");
        }
    }
}

struct Fields {
    name: &'static str,
    method: &'static [u8],
    ruri: &'static [u8],
    call_id: &'static [u8],
    cseq: (u32, &'static [u8]),
    branch: Option<&'static [u8]>,
    to: (&'static [u8], Option<&'static [u8]>),
    from: (&'static [u8], Option<&'static [u8]>),
    content_length: Option<u32>,
    body_len: usize,
}

const FIELDS: &[Fields] = &[
    Fields {
        name: "wsinv",
        method: b"INVITE",
        ruri: b"sip:vivekg@chair-dnrc.example.com;unknownparam",
        call_id: b"wsinv.ndaksdj@192.0.2.1",
        cseq: (9, b"INVITE"),
        branch: Some(b"390skdjuw"),
        to: (b"sip:vivekg@chair-dnrc.example.com", Some(b"1918181833n")),
        from: (b"sip:jdrosen@example.com", Some(b"98asjd8")),
        content_length: Some(150),
        body_len: 150,
    },
    Fields {
        name: "intmeth",
        method: b"!interesting-Method0123456789_*+`.%indeed'~",
        ruri: b"sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
        call_id: b"intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{",
        cseq: (139122385, b"!interesting-Method0123456789_*+`.%indeed'~"),
        branch: Some(b"z9hG4bK-.!%66*_+`'~"),
        to: (b"sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com", None),
        from: (b"sip:mundane@example.com", Some(b"_token~1'+`*%!-.")),
        content_length: Some(0),
        body_len: 0,
    },
    Fields {
        name: "esc01",
        method: b"INVITE",
        ruri: b"sip:sips%3Auser%40example.com@example.net",
        call_id: b"esc01.239409asdfakjkn23onasd0-3234",
        cseq: (234234, b"INVITE"),
        branch: Some(b"z9hG4bKkdjuw"),
        to: (b"sip:%75se%72@example.com", None),
        from: (b"sip:I%20have%20spaces@example.net", Some(b"938")),
        content_length: Some(150),
        body_len: 150,
    },
    Fields {
        name: "escnull",
        method: b"REGISTER",
        ruri: b"sip:example.com",
        call_id: b"escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd",
        cseq: (14398234, b"REGISTER"),
        branch: Some(b"z9hG4bKkdjuw"),
        to: (b"sip:null-%00-null@example.com", None),
        from: (b"sip:null-%00-null@example.com", Some(b"839923423")),
        content_length: Some(0),
        body_len: 0,
    },
    Fields {
        name: "esc02",
        method: b"RE%47IST%45R",
        ruri: b"sip:registrar.example.com",
        call_id: b"esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf",
        cseq: (29344, b"RE%47IST%45R"),
        branch: Some(b"z9hG4bK209%fzsnel234"),
        to: (b"sip:resource@example.com", None),
        from: (b"sip:resource@example.com", Some(b"f232jadfj23")),
        content_length: Some(0),
        body_len: 0,
    },
    Fields {
        name: "lwsdisp",
        method: b"OPTIONS",
        ruri: b"sip:user@example.com",
        call_id: b"lwsdisp.1234abcd@funky.example.com",
        cseq: (60, b"OPTIONS"),
        branch: Some(b"z9hG4bKkdjuw"),
        to: (b"sip:user@example.com", None),
        from: (b"sip:caller@example.com", Some(b"323")),
        content_length: Some(0),
        body_len: 0,
    },
    Fields {
        name: "dblreq",
        method: b"REGISTER",
        ruri: b"sip:example.com",
        call_id: b"dblreq.0ha0isndaksdj99sdfafnl3lk233412",
        cseq: (8, b"REGISTER"),
        branch: Some(b"z9hG4bKkdjuw23492"),
        to: (b"sip:j.user@example.com", None),
        from: (b"sip:j.user@example.com", Some(b"43251j3j324")),
        content_length: Some(0),
        body_len: 0,
    },
    Fields {
        name: "semiuri",
        method: b"OPTIONS",
        ruri: b"sip:user;par=u%40example.net@example.com",
        call_id: b"semiuri.0ha0isndaksdj",
        cseq: (8, b"OPTIONS"),
        branch: Some(b"z9hG4bKkdjuw"),
        to: (b"sip:j_user@example.com", None),
        from: (b"sip:caller@example.org", Some(b"33242")),
        content_length: Some(0),
        body_len: 0,
    },
    Fields {
        name: "transports",
        method: b"OPTIONS",
        ruri: b"sip:user@example.com",
        call_id: b"transports.kijh4akdnaqjkwendsasfdj",
        cseq: (60, b"OPTIONS"),
        branch: Some(b"z9hG4bKkdjuw"),
        to: (b"sip:user@example.com", None),
        from: (b"sip:caller@example.com", Some(b"323")),
        content_length: Some(0),
        body_len: 0,
    },
    Fields {
        name: "mpart01",
        method: b"MESSAGE",
        ruri: b"sip:kumiko@example.org",
        call_id: b"3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..",
        cseq: (1, b"MESSAGE"),
        branch: Some(b"z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-"),
        to: (b"sip:kumiko@example.org", None),
        from: (b"sip:fluffy@example.com", Some(b"2fb0dcc9")),
        content_length: Some(553),
        body_len: 553,
    },
    Fields {
        name: "unkscm",
        method: b"OPTIONS",
        ruri: b"nobodyKnowsThisScheme:totallyopaquecontent",
        call_id: b"unkscm.nasdfasser0q239nwsdfasdkl34",
        cseq: (3923423, b"OPTIONS"),
        branch: Some(b"z9hG4bKkdjuw39234"),
        to: (b"sip:user@example.com", None),
        from: (b"sip:caller@example.net", Some(b"384")),
        content_length: Some(0),
        body_len: 0,
    },
    Fields {
        name: "novelsc",
        method: b"OPTIONS",
        ruri: b"soap.beep://192.0.2.103:3002",
        call_id: b"novelsc.asdfasser0q239nwsdfasdkl34",
        cseq: (3923423, b"OPTIONS"),
        branch: Some(b"z9hG4bKkdjuw39234"),
        to: (b"sip:user@example.com", None),
        from: (b"sip:caller@example.net", Some(b"384")),
        content_length: Some(0),
        body_len: 0,
    },
    Fields {
        name: "unksm2",
        method: b"REGISTER",
        ruri: b"sip:example.com",
        call_id: b"unksm2.daksdj@hyphenated-host.example.com",
        cseq: (234902, b"REGISTER"),
        branch: Some(b"z9hG4bKkdjuw"),
        to: (b"isbn:2983792873", None),
        from: (b"http://www.example.com", Some(b"3234233")),
        content_length: Some(0),
        body_len: 0,
    },
    Fields {
        name: "bext01",
        method: b"OPTIONS",
        ruri: b"sip:user@example.com",
        call_id: b"bext01.0ha0isndaksdj",
        cseq: (8, b"OPTIONS"),
        branch: Some(b"z9hG4bKkdjuw"),
        to: (b"sip:j_user@example.com", None),
        from: (b"sip:caller@example.net", Some(b"242etr")),
        content_length: Some(0),
        body_len: 0,
    },
    Fields {
        name: "invut",
        method: b"INVITE",
        ruri: b"sip:user@example.com",
        call_id: b"invut.0ha0isndaksdjadsfij34n23d",
        cseq: (235448, b"INVITE"),
        branch: Some(b"z9hG4bKkdjuw"),
        to: (b"sip:j.user@example.com", None),
        from: (b"sip:caller@example.net", Some(b"8392034")),
        content_length: Some(40),
        body_len: 40,
    },
    Fields {
        name: "regaut01",
        method: b"REGISTER",
        ruri: b"sip:example.com",
        call_id: b"regaut01.0ha0isndaksdj",
        cseq: (9338, b"REGISTER"),
        branch: Some(b"z9hG4bKkdjuw"),
        to: (b"sip:j.user@example.com", None),
        from: (b"sip:j.user@example.com", Some(b"87321hj23128")),
        content_length: Some(0),
        body_len: 0,
    },
    Fields {
        name: "zeromf",
        method: b"OPTIONS",
        ruri: b"sip:user@example.com",
        call_id: b"zeromf.jfasdlfnm2o2l43r5u0asdfas",
        cseq: (39234321, b"OPTIONS"),
        branch: Some(b"z9hG4bKkdjuw2349i"),
        to: (b"sip:user@example.com", None),
        from: (b"sip:caller@example.net", Some(b"3ghsd41")),
        content_length: Some(0),
        body_len: 0,
    },
    Fields {
        name: "cparam01",
        method: b"REGISTER",
        ruri: b"sip:example.com",
        call_id: b"cparam01.70710@saturn.example.com",
        cseq: (2, b"REGISTER"),
        branch: Some(b"z9hG4bKkdjuw"),
        to: (b"sip:watson@example.com", None),
        from: (b"sip:watson@example.com", Some(b"DkfVgjkrtMwaerKKpe")),
        content_length: Some(0),
        body_len: 0,
    },
    Fields {
        name: "cparam02",
        method: b"REGISTER",
        ruri: b"sip:example.com",
        call_id: b"cparam02.70710@saturn.example.com",
        cseq: (3, b"REGISTER"),
        branch: Some(b"z9hG4bKkdjuw"),
        to: (b"sip:watson@example.com", None),
        from: (b"sip:watson@example.com", Some(b"838293")),
        content_length: Some(0),
        body_len: 0,
    },
    Fields {
        name: "regescrt",
        method: b"REGISTER",
        ruri: b"sip:example.com",
        call_id: b"regescrt.k345asrl3fdbv@192.0.2.1",
        cseq: (14398234, b"REGISTER"),
        branch: Some(b"z9hG4bKkdjuw"),
        to: (b"sip:user@example.com", None),
        from: (b"sip:user@example.com", Some(b"8")),
        content_length: Some(0),
        body_len: 0,
    },
    Fields {
        name: "sdp01",
        method: b"INVITE",
        ruri: b"sip:user@example.com",
        call_id: b"sdp01.ndaksdj9342dasdd",
        cseq: (8, b"INVITE"),
        branch: Some(b"z9hG4bKkdjuw"),
        to: (b"sip:j_user@example.com", None),
        from: (b"sip:caller@example.net", Some(b"234")),
        content_length: Some(150),
        body_len: 150,
    },
    Fields {
        name: "inv2543",
        method: b"INVITE",
        ruri: b"sip:UserB@example.com",
        call_id: b"inv2543.1717@ift.client.example.com",
        cseq: (56, b"INVITE"),
        branch: None,
        to: (b"sip:+16505552222@ss1.example.net", None),
        from: (b"sip:+13035551111@ift.client.example.net;user=phone", None),
        content_length: None,
        body_len: 105,
    },
];

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn rfc4475_valid_requests_key_fields() {
    for f in FIELDS {
        let bytes = read(RFC, &format!("{}.dat", f.name));
        let m = Message::parse(&bytes, Framing::Datagram).unwrap();
        let n = f.name;
        assert_eq!(m.method(), Some(f.method), "{n}");
        assert_eq!(m.request_uri_raw().map(s), Some(s(f.ruri)), "{n}");
        assert_eq!(s(m.call_id().unwrap()), s(f.call_id), "{n}");
        let c = m.cseq().unwrap();
        assert_eq!((c.number, c.method), f.cseq, "{n}");
        assert_eq!(m.top_via().unwrap().branch(), f.branch, "{n}");
        let to = m.to().unwrap();
        assert_eq!((to.uri.raw, to.tag()), f.to, "{n}");
        let from = m.from().unwrap();
        assert_eq!((from.uri.raw, from.tag()), f.from, "{n}");
        assert_eq!(m.content_length(), f.content_length, "{n}");
        assert_eq!(m.body().len(), f.body_len, "{n}");
    }
}

#[test]
fn rfc4475_responses() {
    let b = read(RFC, "unreason.dat");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    assert_eq!(m.status_code(), Some(200));
    let reason = m.reason_phrase().unwrap();
    assert!(reason.starts_with(b"= 2**3 * 5**2 "));
    assert!(std::str::from_utf8(reason).unwrap().ends_with("- простое"));
    assert_eq!(m.body().len(), 154);
    let b = read(RFC, "noreason.dat");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    assert_eq!(
        (m.status_code(), m.reason_phrase()),
        (Some(100), Some(&b""[..]))
    );
    let b = read(RFC, "bcast.dat");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    let second = m.vias().nth(1).unwrap().unwrap();
    assert_eq!(second.host, Host::Ipv4(std::net::Ipv4Addr::BROADCAST));
}

#[test]
fn rfc4475_wsinv_oddities() {
    let b = read(RFC, "wsinv.dat");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    assert_eq!(m.max_forwards(), Ok(Some(68)));
    let vias: Vec<_> = m.vias().map(Result::unwrap).collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[1].transport, b"TCP");
    assert_eq!(vias[1].host, Host::Name(b"spindle.example.com"));
    assert_eq!(vias[1].branch(), Some(&b"z9hG4bK9ikj8"[..]));
    assert_eq!(vias[2].branch(), Some(&b"z9hG4bK30239"[..]));
    let from = m.from().unwrap();
    let mut dn = [0u8; 64];
    let n = from.display_name_into(&mut dn).unwrap();
    assert_eq!(&dn[..n], b"J Rosenberg \\\"");
    let contacts: Vec<_> = m.contacts().map(Result::unwrap).collect();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].q(), Some(&b"0.33"[..]));
    let Contact::Addr(a) = contacts[0] else {
        panic!("not an address")
    };
    assert_eq!(
        a.params.get("newparam").unwrap().value,
        Some(&b"newvalue"[..])
    );
    assert!(a.params.get("secondparam").unwrap().value.is_none());
    let odd = m
        .headers_named(b"unknownheaderwithunusualvalue")
        .next()
        .unwrap();
    assert_eq!(odd.value, b";;,,;;,;");
    assert_eq!(m.first(HeaderName::Subject).unwrap().value, b"");
    let route = m.routes().next().unwrap().unwrap();
    assert_eq!(route.uri.param("lr"), Some(None));
    assert_eq!(route.uri.param("unknownwith"), Some(Some(&b"value"[..])));
    assert_eq!(
        m.content_type().unwrap().map(|c| (c.media_type, c.subtype)),
        Some((&b"application"[..], &b"sdp"[..]))
    );
}

#[test]
fn rfc4475_escapes() {
    let b = read(RFC, "esc01.dat");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    let ruri = Uri::parse(m.request_uri_raw().unwrap()).unwrap();
    let mut out = [0u8; 64];
    let n = unescape_into(ruri.user.unwrap(), &mut out).unwrap();
    assert_eq!(&out[..n], b"sips:user@example.com");
    assert!(escaped_eq(
        m.to().unwrap().uri.user.unwrap(),
        b"user",
        false
    ));
    let Contact::Addr(c) = m.contacts().next().unwrap().unwrap() else {
        panic!()
    };
    let params: Vec<_> = c.uri.params.iter().collect();
    assert!(escaped_eq(params[0].name, b"lr", false));
    assert!(escaped_eq(params[1].name, b"name", false));
    let n = unescape_into(params[1].value.unwrap(), &mut out).unwrap();
    assert_eq!(&out[..n], b"value%41");

    let b = read(RFC, "escnull.dat");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    let users: Vec<_> = m
        .contacts()
        .map(|c| match c.unwrap() {
            Contact::Addr(a) => a.uri.user.unwrap(),
            Contact::Star => panic!(),
        })
        .collect();
    assert_eq!(users.len(), 2);
    assert!(!escaped_eq(users[0], users[1], false));
    let n = unescape_into(m.to().unwrap().uri.user.unwrap(), &mut out).unwrap();
    assert_eq!(&out[..n], b"null-\0-null");

    let b = read(RFC, "esc02.dat");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    assert_ne!(m.method(), Some(&b"REGISTER"[..]));
    assert_eq!(m.contacts().count(), 2);
    assert_eq!(m.headers_named(b"C%6Fntact").count(), 1);
}

#[test]
fn rfc4475_uris_and_contacts() {
    let b = read(RFC, "semiuri.dat");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    let u = Uri::parse(m.request_uri_raw().unwrap()).unwrap();
    assert_eq!(u.user, Some(&b"user;par=u%40example.net"[..]));
    assert_eq!(u.host, Some(Host::Name(b"example.com")));
    assert!(u.params.is_empty());

    let b = read(RFC, "intmeth.dat");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    let u = Uri::parse(m.request_uri_raw().unwrap()).unwrap();
    assert_eq!(
        u.user,
        Some(&b"1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"[..])
    );
    assert_eq!(
        u.password,
        Some(&b"&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"[..])
    );
    let mut out = [0u8; 64];
    let n = m.to().unwrap().display_name_into(&mut out).unwrap();
    assert_eq!(&out[..n], b"BEL:\x07 NUL:\0 DEL:\x7f");
    assert_eq!(
        m.from().unwrap().display_name,
        Some(&b"token1~` token2'+_ token3*%!.-"[..])
    );

    let contact = |name: &str| {
        let b = read(RFC, name);
        let m = Message::parse(&b, Framing::Datagram).unwrap();
        let c = m.contacts().next().unwrap().unwrap();
        let Contact::Addr(a) = c else { panic!() };
        (
            a.uri.params.get("unknownparam").is_some(),
            a.params.get("unknownparam").is_some(),
            a.uri.headers.map(s),
        )
    };
    assert_eq!(contact("cparam01.dat"), (false, true, None));
    assert_eq!(contact("cparam02.dat"), (true, false, None));
    assert_eq!(
        contact("regescrt.dat"),
        (false, false, Some("Route=%3Csip:sip.example.com%3E".into()))
    );

    let b = read(RFC, "unksm2.dat");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    assert_eq!(m.to().unwrap().uri.scheme, Scheme::Other);
    let Contact::Addr(c) = m.contacts().next().unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(
        (c.uri.scheme_raw, c.uri.opaque),
        (&b"name"[..], &b"John_Smith"[..])
    );
}

#[test]
fn rfc4475_vias_lengths_and_framing() {
    let b = read(RFC, "transports.dat");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    let t: Vec<_> = m.vias().map(|v| s(v.unwrap().transport)).collect();
    assert_eq!(t, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);

    let b = read(RFC, "longreq.dat");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    assert_eq!(m.vias().count(), 34);
    assert!(m.vias().all(|v| v.is_ok()));
    assert_eq!(m.headers_of(HeaderName::Via).count(), 34);

    let b = read(RFC, "dblreq.dat");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    assert_eq!(m.as_bytes().len(), b.len() - 450);
    assert!(m.as_bytes().ends_with(b"\r\n\r\n"));

    let b = read(RFC, "inv2543.dat");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    assert_eq!(m.max_forwards(), Ok(None));
    assert_eq!(m.body_range().end, b.len());
    // On a stream the same message cannot be framed.
    assert_eq!(
        Message::parse(&b, Framing::Stream).unwrap_err(),
        ParseError::MissingContentLength
    );

    let b = read(RFC, "mpart01.dat");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    assert!(m.body().contains(&0));
    let ct = m.content_type().unwrap().unwrap();
    assert!(ct.is("multipart", "mixed"));
    assert!(ct.params.get("boundary").is_some());

    let b = read(RFC, "zeromf.dat");
    assert_eq!(
        Message::parse(&b, Framing::Datagram)
            .unwrap()
            .max_forwards(),
        Ok(Some(0))
    );

    // Over a stream: clerr waits for more data, ncl and mcl01 lose the framing.
    let frame = |name: &str| frame_stream(&read(RFC, &format!("{name}.dat")));
    assert_eq!(frame("clerr"), Ok(StreamFrame::Incomplete));
    assert_eq!(frame("ncl"), Err(ParseError::NegativeContentLength));
    assert_eq!(frame("mcl01"), Err(ParseError::ConflictingContentLength));
    let b = read(RFC, "dblreq.dat");
    assert_eq!(frame_stream(&b), Ok(StreamFrame::Message(b.len() - 450)));
    // The trailing octets are a CRLF and then a whole INVITE.
    let rest = &b[b.len() - 450..];
    assert_eq!(frame_stream(rest), Ok(StreamFrame::Keepalive(2)));
    // Its Content-Length (150) ends the frame 5 octets before the datagram does.
    assert_eq!(frame_stream(&rest[2..]), Ok(StreamFrame::Message(443)));
    let invite = Message::parse(&rest[2..], Framing::Stream).unwrap();
    assert_eq!(invite.method(), Some(&b"INVITE"[..]));
}

#[test]
fn rfc4475_extensions_and_credentials() {
    let b = read(RFC, "bext01.dat");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    let pr: Vec<_> = m.proxy_require().map(s).collect();
    assert_eq!(pr, ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]);
    let unsupported: Vec<_> = m
        .unsupported_proxy_require(&["norDoAnyProxiesSupportThis"])
        .collect();
    assert_eq!(unsupported, [&b"noProxiesSupportThis"[..]]);
    assert_eq!(m.require().count(), 2);

    let b = read(RFC, "regaut01.dat");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    let c = m.authorizations().next().unwrap().unwrap();
    assert_eq!(c.scheme, b"NoOneKnowsThisScheme");
    assert!(!c.is_digest());
    assert_eq!(c.get("opaque-data"), Some(&b"here"[..]));

    let b = read(RFC, "scalar02.dat");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    assert_eq!(m.max_forwards(), Err(ParseError::BadMaxForwards));
    assert!(m.expires().is_err());
    assert!(m.contacts().next().unwrap().unwrap().expires().is_err());
}

#[test]
fn rfc4475_baddn_display_names_rejected_once_framed() {
    // The archive file lacks the final empty line; with it, the From display name is the
    // problem.
    let mut b = read(RFC, "baddn.dat");
    b.extend_from_slice(b"\r\n");
    assert_eq!(
        parse_and_validate(&b, Framing::Datagram).unwrap_err(),
        ParseError::BadFrom
    );
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    assert_eq!(m.to().unwrap_err(), ParseError::BadTo);
}

// ---- real/ ----

/// A small SHA-256 (FIPS 180-4) so that a checkout with changed line ends fails loudly.
fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 64];
        for i in 0..16 {
            w[i] = u32::from_be_bytes(block[i * 4..i * 4 + 4].try_into().unwrap());
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut v = h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7]
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [
                t1.wrapping_add(t2),
                v[0],
                v[1],
                v[2],
                v[3].wrapping_add(t1),
                v[4],
                v[5],
                v[6],
            ];
        }
        for (a, b) in h.iter_mut().zip(v) {
            *a = a.wrapping_add(b);
        }
    }
    let mut out = [0u8; 32];
    for (i, x) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn sha256_known_vectors() {
    assert_eq!(
        hex(&sha256(b"")),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        hex(&sha256(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

fn real_files() -> Vec<(String, Vec<u8>, Framing)> {
    let rows = index(REAL);
    assert_eq!(rows.len(), 30);
    rows.iter()
        .map(|r| {
            let bytes = read(REAL, &r[0]);
            assert_eq!(bytes.len().to_string(), r[1], "{}: size", r[0]);
            assert_eq!(
                hex(&sha256(&bytes)),
                r[2],
                "{}: sha256 (line ends changed?)",
                r[0]
            );
            let t = if r[3].starts_with("udp") {
                Framing::Datagram
            } else {
                Framing::Stream
            };
            (r[0].clone(), bytes, t)
        })
        .collect()
}

#[test]
fn real_messages_parse_validate_and_reemit_identically() {
    for (name, bytes, transport) in real_files() {
        let m = parse_and_validate(&bytes, transport).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Every file's Content-Length matches its body (README).
        assert_eq!(
            m.content_length().map(|n| n as usize),
            Some(m.body().len()),
            "{name}"
        );
        assert_eq!(m.as_bytes(), &bytes[..], "{name}");
        for v in m.vias() {
            v.unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        for r in m.routes().chain(m.record_routes()) {
            r.unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        for c in m.authorizations().chain(m.proxy_authorizations()) {
            let c = c.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                c.is_digest() && c.username().is_some() && c.response().is_some(),
                "{name}"
            );
        }
        m.expires().unwrap();
        m.content_type().unwrap();
        // On a stream, the message frames to exactly its own length.
        assert_eq!(
            frame_stream(&bytes),
            Ok(StreamFrame::Message(bytes.len())),
            "{name}"
        );
        let mut e = Editor::new(&m);
        let mut out = vec![0u8; bytes.len()];
        let n = e.emit(&mut out).unwrap();
        assert_eq!(&out[..n], &bytes[..], "{name}");
    }
}

#[test]
fn real_contact_uri_replacement_changes_only_that_uri() {
    let mut replaced = 0;
    for (name, bytes, transport) in real_files() {
        let m = Message::parse(&bytes, transport).unwrap();
        let Some(Ok(Contact::Addr(c))) = m.contacts().next() else {
            continue;
        };
        let r = m.range_of(c.uri.raw).unwrap();
        let new = b"sip:masq@203.0.113.7:5060";
        let mut e = Editor::new(&m);
        e.replace(c.uri.raw, new).unwrap();
        let mut out = Vec::with_capacity(4096);
        e.emit_vec(&mut out).unwrap();
        assert_eq!(out.len(), bytes.len() - r.len() + new.len(), "{name}");
        assert_eq!(&out[..r.start], &bytes[..r.start], "{name}: prefix");
        assert_eq!(&out[r.start..r.start + new.len()], new, "{name}");
        assert_eq!(
            &out[r.start + new.len()..],
            &bytes[r.end..],
            "{name}: suffix"
        );
        let again = Message::parse(&out, transport).unwrap();
        let Some(Ok(Contact::Addr(c2))) = again.contacts().next() else {
            panic!("{name}")
        };
        assert_eq!(c2.uri.raw, new);
        assert_eq!(again.body(), m.body());
        replaced += 1;
    }
    assert!(replaced >= 20, "only {replaced} messages had a Contact");
}

#[test]
fn real_nat_fields() {
    let m_of = |name: &str| read(REAL, name);
    let b = m_of("vsbc-407-invite-nat.sip");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    let v = m.top_via().unwrap();
    assert_eq!(v.rport(), Some(Rport::Port(53221)));
    assert_eq!(v.received(), Some(&b"180.173.83.248"[..]));
    assert_eq!(v.host, Host::Ipv4("192.168.8.53".parse().unwrap()));
    assert_eq!(v.port, Some(5860));

    let b = m_of("valid8-invite-ipv6.sip");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    let v = m.top_via().unwrap();
    assert_eq!(
        v.host,
        Host::Ipv6("fe80::21a:a0ff:fe07:32e0".parse().unwrap())
    );
    assert_eq!(v.port, Some(5060));
    let ruri = Uri::parse(m.request_uri_raw().unwrap()).unwrap();
    assert_eq!(
        ruri.host,
        Some(Host::Ipv6("fec0::216:d3ff:fe0d:22c".parse().unwrap()))
    );
    assert_eq!(ruri.port, Some(5060));

    let b = m_of("alcatel8001-invite-proxyauth.sip");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    let c = m.proxy_authorizations().next().unwrap().unwrap();
    assert_eq!(c.qop(), Some(&b"auth"[..]));
    assert!(c.cnonce().is_some() && c.nc().is_some() && c.nonce().is_some());
    assert!(c.realm().is_some() && c.uri().is_some());

    let b = m_of("microsip-register-tcp.sip");
    let m = Message::parse(&b, Framing::Stream).unwrap();
    let Contact::Addr(c) = m.contacts().next().unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(c.uri.param("transport"), Some(Some(&b"TCP"[..])));
    assert_eq!(
        c.params.get("+sip.instance").unwrap().unquoted(),
        Some(&b"<urn:uuid:00000000-0000-0000-0000-00009314fa8a>"[..])
    );
    assert_eq!(m.expires(), Ok(Some(300)));
    assert_eq!(
        m.supported().map(s).collect::<Vec<_>>(),
        ["outbound", "path"]
    );

    let b = m_of("sonus-183-earlymedia.sip");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    assert_eq!(m.record_routes().count(), 2);
    assert_eq!(m.content_length(), Some(237));
}

#[test]
fn rfc4475_longreq_key_fields() {
    let b = read(RFC, "longreq.dat");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    assert_eq!(b.len(), 3515);
    assert_eq!(m.method(), Some(&b"INVITE"[..]));
    assert_eq!(m.request_uri_raw(), Some(&b"sip:user@example.com"[..]));
    let call_id = format!("longreq.one{}longcallid", "really".repeat(20));
    assert_eq!(m.call_id().unwrap(), call_id.as_bytes());
    let c = m.cseq().unwrap();
    assert_eq!((c.number, c.method), (3882340, &b"INVITE"[..]));
    // The top Via (sip33) has no branch; the bottom one has a 215-octet branch.
    let vias: Vec<_> = m.vias().map(Result::unwrap).collect();
    assert_eq!(vias[0].host, Host::Name(b"sip33.example.com"));
    assert_eq!(vias[0].branch(), None);
    let last = vias.last().unwrap();
    let branch = format!("very{}branchvalue", "long".repeat(50));
    assert_eq!(last.branch(), Some(branch.as_bytes()));
    assert_eq!(last.received(), Some(&b"192.0.2.5"[..]));
    let to = m.to().unwrap();
    assert_eq!(to.uri.port, Some(6000));
    assert_eq!(to.uri.params.iter().count(), 3);
    assert!(to
        .display_name
        .unwrap()
        .starts_with(b"\"I have a user name of extreme"));
    assert_eq!(to.tag(), None);
    let from = m.from().unwrap();
    let tag = format!("1{}2424", "298".repeat(50));
    assert_eq!(from.tag(), Some(tag.as_bytes()));
    assert_eq!(from.params.iter().count(), 3);
    assert_eq!(m.content_length(), Some(150));
    assert_eq!(m.body().len(), 150);
}

#[test]
fn rfc4475_valid_responses_key_fields() {
    struct R {
        name: &'static str,
        code: u16,
        call_id: &'static [u8],
        branch: &'static [u8],
        to: (&'static [u8], &'static [u8]),
        from: (&'static [u8], &'static [u8]),
        content_length: u32,
    }
    let table = [
        R {
            name: "unreason",
            code: 200,
            call_id: b"unreason.1234ksdfak3j2erwedfsASdf",
            branch: b"z9hG4bK1324923",
            to: (b"sip:user@example.edu", b"2229"),
            from: (b"sip:user@example.com", b"11141343"),
            content_length: 154,
        },
        R {
            name: "noreason",
            code: 100,
            call_id: b"noreason.asndj203insdf99223ndf",
            branch: b"z9hG4bK2398ndaoe",
            to: (b"sip:user@example.edu", b"902jndnke3"),
            from: (b"sip:user@example.com", b"39ansfi3"),
            content_length: 0,
        },
        R {
            name: "bcast",
            code: 200,
            call_id: b"bcast.0384840201234ksdfak3j2erwedfsASdf",
            branch: b"z9hG4bK1324923",
            to: (b"sip:user@example.edu", b"2229"),
            from: (b"sip:user@example.com", b"11141343"),
            content_length: 154,
        },
    ];
    for r in table {
        let b = read(RFC, &format!("{}.dat", r.name));
        let m = parse_and_validate(&b, Framing::Datagram).unwrap();
        let n = r.name;
        assert!(!m.is_request(), "{n}");
        assert_eq!(m.status_code(), Some(r.code), "{n}");
        assert_eq!(m.call_id().unwrap(), r.call_id, "{n}");
        let c = m.cseq().unwrap();
        assert_eq!((c.number, c.method), (35, &b"INVITE"[..]), "{n}");
        assert_eq!(m.top_via().unwrap().branch(), Some(r.branch), "{n}");
        let to = m.to().unwrap();
        assert_eq!((to.uri.raw, to.tag().unwrap()), r.to, "{n}");
        let from = m.from().unwrap();
        assert_eq!((from.uri.raw, from.tag().unwrap()), r.from, "{n}");
        assert_eq!(m.content_length(), Some(r.content_length), "{n}");
        assert_eq!(m.body().len(), r.content_length as usize, "{n}");
    }
}

#[test]
fn rfc4475_answerable_requests_index_for_reply() {
    let mut answered = 0;
    for row in index(RFC) {
        let name = &row[0];
        let bytes = read(RFC, &format!("{name}.dat"));
        let Some(Answer(code, _)) = outcome(&bytes) else {
            continue;
        };
        answered += 1;
        let m = Message::parse_for_reply(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(m.is_request(), "{name}");
        // What a stateless answer copies: the Via list, CSeq, Call-ID, From and To.
        let via = m.top_via();
        let cseq = m.cseq();
        let call_id = m.call_id();
        match name.as_str() {
            "badinv01" => assert_eq!(via.unwrap_err(), ParseError::BadVia),
            _ => assert!(via.is_ok(), "{name}"),
        }
        match name.as_str() {
            "scalar02" => assert_eq!(cseq.unwrap_err(), ParseError::BadCSeq),
            "multi01" => assert!(cseq.is_err()),
            _ => assert!(cseq.is_ok(), "{name}"),
        }
        match name.as_str() {
            "insuf" => assert_eq!(call_id.unwrap_err(), ParseError::MissingCallId),
            "multi01" => assert!(call_id.is_err()),
            _ => assert!(call_id.is_ok(), "{name}"),
        }
        if code == 505 {
            assert_eq!(
                m.start_line(),
                StartLine::Request {
                    method: b"OPTIONS",
                    uri: b"sip:t.watson@example.org",
                    version: b"SIP/7.0"
                }
            );
        }
    }
    assert_eq!(answered, 22);
    let b = read(RFC, "lwsstart.dat");
    let m = Message::parse_for_reply(&b).unwrap();
    assert_eq!(m.method(), Some(&b"INVITE"[..]));
    assert_eq!(m.request_uri_raw(), Some(&b"sip:user@example.com"[..]));
    // Headers of a message without its final empty line are still indexed.
    let b = read(RFC, "baddn.dat");
    let m = Message::parse_for_reply(&b).unwrap();
    assert_eq!(m.content_length(), None);
    assert_eq!(m.cseq().unwrap().number, 3923239);
    assert_eq!(m.headers().last().unwrap().name, b"l");
}

// ---- RFC 5118 (IPv6 torture messages), tests/data/rfc5118 ----

const RFC5118: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rfc5118/");

fn v6(s: &str) -> Host<'static> {
    Host::Ipv6(s.parse().unwrap())
}

#[test]
fn rfc5118_every_file_classified_as_index_says() {
    let rows = index(RFC5118);
    assert_eq!(rows.len(), 12);
    for row in &rows {
        let (name, validity, expectation) = (&row[0], &row[2], &row[4]);
        let bytes = read(RFC5118, &format!("{name}.dat"));
        assert_eq!(bytes.len().to_string(), row[5], "{name}: file size");
        let got = parse_and_validate(&bytes, Framing::Datagram).map(|_| ());
        match validity.as_str() {
            "valid" => assert_eq!(got, Ok(()), "{name}"),
            _ => {
                assert_eq!(got, Err(E::BadRequestUri), "{name}");
                assert!(expectation.starts_with("reject with 400"), "{name}");
                assert_eq!(
                    outcome(&bytes),
                    Some(Answer(400, "Bad Request-URI")),
                    "{name}"
                );
            }
        }
    }
}

#[test]
fn rfc5118_addresses_read_as_the_rfc_says() {
    let m_of = |n: &str| read(RFC5118, &format!("{n}.dat"));
    let ruri = |b: &[u8]| {
        let m = Message::parse(b, Framing::Datagram).unwrap();
        let u = Uri::parse(m.request_uri_raw().unwrap()).unwrap();
        (u.host.map(|h| format!("{h:?}")), u.port)
    };
    // §4.1: Request-URI, Via and Contact are IPv6 references.
    let b = m_of("ipv6-good");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    assert_eq!(m.top_via().unwrap().host, v6("2001:db8::9:1"));
    let Ok(Contact::Addr(c)) = m.contacts().next().unwrap() else {
        panic!("contact")
    };
    assert_eq!(c.uri.host, Some(v6("2001:db8::1")));
    assert_eq!(ruri(&b), (Some(format!("{:?}", v6("2001:db8::10"))), None));
    // §4.3: the 5070 is inside the brackets: part of the address, no port.
    assert_eq!(
        ruri(&m_of("port-ambiguous")),
        (Some(format!("{:?}", v6("2001:db8::10:5070"))), None)
    );
    // §4.4: the port follows the brackets.
    assert_eq!(
        ruri(&m_of("port-unambiguous")),
        (Some(format!("{:?}", v6("2001:db8::10"))), Some(5070))
    );
    // §4.5: received with and without brackets is the same address.
    for n in [
        "via-received-param-with-delim",
        "via-received-param-no-delim",
    ] {
        let b = m_of(n);
        let m = Message::parse(&b, Framing::Datagram).unwrap();
        let v = m.top_via().unwrap();
        assert_eq!(v.host, v6("2001:db8::9:1"), "{n}");
        assert_eq!(
            v.received_ip(),
            Some("2001:db8::9:255".parse().unwrap()),
            "{n}"
        );
    }
    // §4.7: the Via list mixes IPv6 references and IPv4 addresses.
    let b = m_of("mult-ip-in-header");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    let vias: Vec<_> = m.vias().map(Result::unwrap).collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(
        (vias[0].host, vias[0].port),
        (v6("2001:db8::9:1"), Some(6050))
    );
    assert_eq!(vias[1].host, Host::Ipv4("192.0.2.1".parse().unwrap()));
    assert_eq!(vias[2].host, v6("2001:db8::9:255"));
    assert_eq!(vias[2].received_ip(), Some("192.0.2.200".parse().unwrap()));
    // §4.9: IPv4-mapped references with a port after the bracket.
    let b = m_of("ipv4-mapped-ipv6");
    let m = Message::parse(&b, Framing::Datagram).unwrap();
    let v = m.top_via().unwrap();
    assert_eq!((v.host, v.port), (v6("::ffff:192.0.2.10"), Some(19823)));
    // §4.10: two colons before the embedded IPv4 part are right.
    assert_eq!(
        ruri(&m_of("ipv6-correct-abnf-2-colons")),
        (Some(format!("{:?}", v6("2001:db8::192.0.2.1"))), None)
    );
}
