//! Property tests: generated messages round-trip, random edits keep messages well framed,
//! and no input (random or a mutated corpus message) makes the parser or accessors panic.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test helpers: a failed set-up panics, as a test should

use std::sync::OnceLock;

use proptest::prelude::*;
use siproxd_rs::sip::*;

const NAMES: &[&str] = &[
    "Via",
    "v",
    "From",
    "f",
    "To",
    "t",
    "Call-ID",
    "i",
    "CSeq",
    "Contact",
    "m",
    "X-Custom",
    "User-Agent",
    "MaX-fOrWaRdS",
    "Subject",
    "s",
    "Supported",
    "k",
    "Route",
    "Expires",
];

fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(NAMES).prop_map(str::to_owned),
        "[A-Za-z][A-Za-z0-9.!%*_+`'~-]{0,15}",
    ]
    .prop_filter("Content-Length is generated separately", |n| {
        HeaderName::from_bytes(n.as_bytes()) != HeaderName::ContentLength
    })
}

/// A header value without surrounding white space, possibly folded over two lines.
fn header_value() -> impl Strategy<Value = String> {
    let seg = "[!-~]([ -~]{0,30}[!-~])?";
    (
        seg,
        proptest::option::of((
            prop::sample::select(&["\r\n ", "\r\n\t", "\r\n   "][..]),
            seg,
        )),
    )
        .prop_map(|(a, fold)| match fold {
            Some((f, b)) => format!("{a}{f}{b}"),
            None => a,
        })
}

#[derive(Debug, Clone)]
struct Generated {
    bytes: Vec<u8>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    with_cl: bool,
}

fn start_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (
            "[A-Z]{3,9}",
            "[a-z0-9]{1,8}",
            "[a-z]{1,8}",
            proptest::option::of(1u16..)
        )
            .prop_map(|(m, u, h, p)| {
                let port = p.map(|p| format!(":{p}")).unwrap_or_default();
                format!("{m} sip:{u}@{h}.example.com{port} SIP/2.0").into_bytes()
            }),
        (
            100u16..700,
            prop::collection::vec(
                any::<u8>().prop_filter("no line end", |b| *b != b'\r' && *b != b'\n'),
                0..24
            )
        )
            .prop_map(|(code, reason)| {
                let mut l = format!("SIP/2.0 {code} ").into_bytes();
                l.extend_from_slice(&reason);
                l
            }),
    ]
}

fn message() -> impl Strategy<Value = Generated> {
    (
        start_line(),
        prop::collection::vec((header_name(), " {0,2}", " {0,2}", header_value()), 0..16),
        prop::collection::vec(any::<u8>(), 0..200),
        any::<bool>(),
    )
        .prop_map(|(start, hs, body, with_cl)| {
            let mut bytes = start;
            bytes.extend_from_slice(b"\r\n");
            let mut headers = Vec::new();
            for (name, sp1, sp2, value) in hs {
                bytes.extend_from_slice(format!("{name}{sp1}:{sp2}{value}\r\n").as_bytes());
                headers.push((name, value));
            }
            if with_cl {
                bytes.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
            }
            bytes.extend_from_slice(b"\r\n");
            bytes.extend_from_slice(&body);
            Generated {
                bytes,
                headers,
                body,
                with_cl,
            }
        })
}

proptest! {
    #[test]
    fn generated_messages_round_trip(g in message()) {
        let m = Message::parse(&g.bytes, Framing::Datagram).unwrap();
        let extra = usize::from(g.with_cl);
        prop_assert_eq!(m.header_count(), g.headers.len() + extra);
        for (h, (name, value)) in m.headers().zip(&g.headers) {
            prop_assert_eq!(h.name, name.as_bytes());
            prop_assert_eq!(h.value, value.as_bytes());
            prop_assert_eq!(h.kind, HeaderName::from_bytes(name.as_bytes()));
        }
        prop_assert_eq!(m.body(), &g.body[..]);
        prop_assert_eq!(m.as_bytes(), &g.bytes[..]);
        let mut out = vec![0u8; g.bytes.len()];
        let n = Editor::new(&m).emit(&mut out).unwrap();
        prop_assert_eq!(&out[..n], &g.bytes[..]);
        if g.with_cl {
            prop_assert_eq!(frame_stream(&g.bytes), Ok(StreamFrame::Message(g.bytes.len())));
            prop_assert_eq!(
                Message::parse(&g.bytes, Framing::Stream).unwrap().body(),
                &g.body[..]
            );
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    RemoveHeader(usize),
    InsertTop(String, String),
    Append(String, String),
    SetBody(Vec<u8>),
    SetViaParam(&'static str, Option<String>),
    RemoveContactValue(usize),
    ReplaceRequestUri(String),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<usize>().prop_map(Op::RemoveHeader),
        (header_name(), header_value()).prop_map(|(n, v)| Op::InsertTop(n, v)),
        (header_name(), header_value()).prop_map(|(n, v)| Op::Append(n, v)),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Op::SetBody),
        (
            prop::sample::select(&["received", "rport", "branch", "x-param"][..]),
            proptest::option::of("[a-zA-Z0-9.]{1,12}")
        )
            .prop_map(|(n, v)| Op::SetViaParam(n, v)),
        any::<usize>().prop_map(Op::RemoveContactValue),
        "sip:[a-z]{1,8}@[a-z]{1,8}\\.net(:[1-9][0-9]{0,3})?".prop_map(Op::ReplaceRequestUri),
    ]
}

/// A message with a Via and a two-value Contact, on top of generated headers.
fn editable() -> impl Strategy<Value = Vec<u8>> {
    message().prop_map(|g| {
        let mut b = b"INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK77;rport\r\n\
Contact: <sip:a@10.0.0.1>, <sip:b@10.0.0.2>;q=0.5\r\n"
            .to_vec();
        let first_line_end = g.bytes.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
        b.extend_from_slice(&g.bytes[first_line_end..]);
        b
    })
}

proptest! {
    #[test]
    fn random_edits_keep_messages_parseable(src in editable(), ops in prop::collection::vec(op(), 1..6)) {
        let m = Message::parse(&src, Framing::Datagram).unwrap();
        let via = m.top_via().unwrap();
        let contacts: Vec<&[u8]> = m.values(HeaderName::Contact).collect();
        let mut e = Editor::new(&m);
        let mut lines: isize = m.header_count() as isize;
        let mut new_body = None;
        let mut ok = true;
        for op in &ops {
            let r = match op {
                Op::RemoveHeader(i) => {
                    lines -= 1;
                    e.remove_header(i % m.header_count()).map(|_| ())
                }
                Op::InsertTop(n, v) => {
                    lines += 1;
                    e.insert_header_top(n.as_bytes(), v.as_bytes()).map(|_| ())
                }
                Op::Append(n, v) => {
                    lines += 1;
                    e.append_header(n.as_bytes(), v.as_bytes()).map(|_| ())
                }
                Op::SetBody(b) => {
                    new_body = Some(b.as_slice());
                    e.set_body(b);
                    Ok(())
                }
                Op::SetViaParam(n, v) => e
                    .set_param(&via.params, n.as_bytes(), v.as_deref().map(str::as_bytes))
                    .map(|_| ()),
                Op::RemoveContactValue(i) => {
                    let v = contacts[i % contacts.len()];
                    let r = m.range_of(v).unwrap();
                    let line = m
                        .headers_of(HeaderName::Contact)
                        .find(|h| {
                            let hr = m.range_of(h.value).unwrap();
                            hr.start <= r.start && r.end <= hr.end
                        })
                        .unwrap();
                    // The last element of a line takes the line with it.
                    if line.values().count() == 1 {
                        lines -= 1;
                    }
                    e.remove_value(v).map(|_| ())
                }
                Op::ReplaceRequestUri(u) => e.replace(m.request_uri_raw().unwrap(), u.as_bytes()).map(|_| ()),
            };
            ok &= r.is_ok();
        }
        if new_body.is_some() && m.content_length().is_none() {
            lines += 1;
        }
        let mut out = Vec::with_capacity(8192);
        match e.emit_vec(&mut out) {
            Err(EditError::Overlap) => return Ok(()),
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
            Ok(_) => {}
        }
        prop_assert!(ok);
        let again = Message::parse(&out, Framing::Datagram).unwrap();
        prop_assert_eq!(again.header_count() as isize, lines);
        let body = new_body.unwrap_or(m.body());
        prop_assert_eq!(again.body(), body);
        if let Some(cl) = again.content_length() {
            prop_assert_eq!(cl as usize, body.len());
        }
        prop_assert_eq!(again.as_bytes().len(), out.len());
        // Set parameters read back (setting one name twice is a caller error, not checked).
        let names: Vec<&str> = ops
            .iter()
            .filter_map(|o| match o {
                Op::SetViaParam(n, _) => Some(*n),
                _ => None,
            })
            .collect();
        let distinct = names.iter().all(|n| names.iter().filter(|m| *m == n).count() == 1);
        for op in ops.iter().filter(|_| distinct) {
            if let Op::SetViaParam(n, v) = op {
                if let Ok(v2) = again.top_via() {
                    let got = v2.params.get(n).map(|p| p.value);
                    prop_assert_eq!(got, Some(v.as_deref().map(str::as_bytes)));
                }
            }
        }
    }
}

// ---- no panic on any input ----

fn corpus() -> &'static Vec<Vec<u8>> {
    static FILES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    FILES.get_or_init(|| {
        let base = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/");
        let mut v = Vec::new();
        for dir in ["rfc4475", "real"] {
            for e in std::fs::read_dir(format!("{base}{dir}")).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x != "tsv") {
                    v.push(std::fs::read(p).unwrap());
                }
            }
        }
        v.sort();
        v
    })
}

/// Calls the parser and every accessor, ignoring results: only panics matter.
fn exercise(bytes: &[u8]) {
    let _ = looks_like_request(bytes);
    let _ = frame_stream(bytes);
    if let Ok(m) = Message::parse_for_reply(bytes) {
        let _ = (m.top_via(), m.cseq(), m.call_id(), m.from(), m.to());
        let _ = Editor::new(&m).emit(&mut [0u8; 256]);
    }
    for t in [Framing::Datagram, Framing::Stream] {
        let Ok(m) = Message::parse(bytes, t) else {
            continue;
        };
        let _ = m.validate();
        for h in m.headers() {
            for v in h.values() {
                let _ = NameAddr::parse(v);
                let _ = Via::parse(v);
                let _ = Contact::parse(v);
                let _ = Uri::parse(v);
                let _ = Credentials::parse(v);
                let _ = ContentType::parse(v);
                let _ = CSeq::parse(v);
                let mut buf = [0u8; 64];
                let _ = unescape_into(v, &mut buf);
                let _ = escaped_eq(v, v, true);
            }
            let _ = Tokens::new(h.value).count();
        }
        if let Some(u) = m.request_uri_raw() {
            let _ = Uri::parse(u);
        }
        let _ = (
            m.cseq(),
            m.call_id(),
            m.from(),
            m.to(),
            m.max_forwards(),
            m.expires(),
        );
        let _ = m.content_type();
        let _ = m.vias().count() + m.routes().count() + m.record_routes().count();
        let _ = m.authorizations().count() + m.proxy_authorizations().count();
        let _ = m.proxy_require().count() + m.supported().count();
        for c in m.contacts().flatten() {
            let _ = (c.expires(), c.q());
            if let Contact::Addr(a) = c {
                let mut dn = [0u8; 16];
                let _ = a.display_name_into(&mut dn);
                let _ = a.tag();
            }
        }
        let mut e = Editor::new(&m);
        if let Ok(v) = m.top_via() {
            let _ = e.set_param(&v.params, b"received", Some(b"1.2.3.4"));
        }
        if let Some(c) = m.values(HeaderName::Contact).next() {
            let _ = e.remove_value(c);
        }
        e.set_body(b"x");
        let mut out = [0u8; 1024];
        if let Ok(n) = e.emit(&mut out) {
            let _ = Message::parse(&out[..n], Framing::Datagram);
        }
    }
}

const SIPISH: &[u8] = b"SIP/2.0 INVITE sip:@;=,<>\"\\\r\n\r\n:vftimlcVia To From CSeq Contact Content-Length 0123456789 \t[]?%-*";

#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (
            any::<usize>(),
            prop::collection::vec(prop::sample::select(SIPISH), 1..12)
        )
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

proptest! {
    #[test]
    fn no_panic_on_arbitrary_bytes(b in prop::collection::vec(any::<u8>(), 0..600)) {
        exercise(&b);
    }

    #[test]
    fn no_panic_on_sip_like_bytes(b in prop::collection::vec(prop::sample::select(SIPISH), 0..600)) {
        exercise(&b);
    }

    #[test]
    fn no_panic_on_mutated_corpus(file in any::<prop::sample::Index>(), muts in prop::collection::vec(mutation(), 1..8)) {
        let files = corpus();
        let mut b = files[file.index(files.len())].clone();
        for m in muts {
            let len = b.len().max(1);
            match m {
                Mutation::Set(i, x) => {
                    if let Some(s) = b.get_mut(i % len) {
                        *s = x;
                    }
                }
                Mutation::Delete(i, n) => {
                    let s = i % len;
                    let e = (s + n).min(b.len());
                    if s < e {
                        b.drain(s..e);
                    }
                }
                Mutation::Insert(i, bytes) => {
                    let at = i % (b.len() + 1);
                    b.splice(at..at, bytes);
                }
                Mutation::Truncate(i) => b.truncate(i % len),
            }
        }
        exercise(&b);
    }
}

#[test]
fn corpus_is_loaded() {
    assert_eq!(corpus().len(), 79);
}
