//! SIP editor: parse a message, apply a fuzzer-chosen sequence of edits, emit, re-parse.
//!
//! Input: byte 0 = number N of op bytes (at most 64), then N op bytes (two per edit: which
//! edit, which argument), then the message. Invariants: `output_len` and `emit` agree and
//! `emit` refuses a buffer one byte short; the output parses; its Content-Length matches the
//! body (the new one after `set_body`, else the original body, byte for byte); every inserted
//! header is there once with its value; a replaced Request-URI is the new one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siproxd_rs::limits::SIP_MIN_MESSAGE;
use siproxd_rs::sip::{EditError, Editor, HeaderName, Message, NameAddr, ParseError, Framing};

const VALUES: [&[u8]; 6] = [
    b"1",
    b"SIP/2.0/UDP 203.0.113.9:5060;branch=z9hG4bKfuzz;rport",
    b"<sip:proxy@203.0.113.9;lr>",
    b"a, b, c",
    b"\"quoted, with comma\" <sip:x@y>;tag=t",
    b"token",
];
const URIS: [&[u8]; 4] = [
    b"sip:alice@203.0.113.9:5060",
    b"sips:[2001:db8::1]:5061;transport=tls",
    b"sip:203.0.113.9;lr;maddr=10.0.0.1",
    b"tel:+15551234",
];
const PARAMS: [&[u8]; 4] = [b"received", b"rport", b"branch", b"x-fuzz"];
const PARAM_VALUES: [Option<&[u8]>; 4] = [
    None,
    Some(b"203.0.113.9"),
    Some(b"5060"),
    Some(b"z9hG4bKnew"),
];
const BODIES: [&[u8]; 4] = [
    b"",
    b"v=0\r\no=- 1 1 IN IP4 203.0.113.9\r\ns=-\r\nc=IN IP4 203.0.113.9\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n",
    b"hello",
    &[b'x'; 1500],
];
const KINDS: [HeaderName; 6] = [
    HeaderName::Via,
    HeaderName::Contact,
    HeaderName::Route,
    HeaderName::RecordRoute,
    HeaderName::From,
    HeaderName::Other,
];

fn pick<T: Copy>(list: &[T], arg: u8) -> T {
    list[usize::from(arg) % list.len()]
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n % 65).min(rest.len());
    let (ops, msg_bytes) = rest.split_at(n);
    let Ok(msg) = Message::parse(msg_bytes, Framing::Datagram) else {
        return;
    };

    // One header name per op, declared before the editor that borrows them.
    let names: Vec<Vec<u8>> = (0..ops.len())
        .map(|k| format!("X-Fuzz-{k}").into_bytes())
        .collect();
    let mut ed = Editor::new(&msg);
    let mut inserted: Vec<(&[u8], &[u8])> = Vec::new();
    let mut new_body: Option<&[u8]> = None;
    let mut new_uri: Option<&[u8]> = None;
    let not_cl = |h: &siproxd_rs::sip::Header<'_>| h.kind != HeaderName::ContentLength;

    for (k, op) in ops.chunks(2).enumerate() {
        let (which, arg) = (op[0], op.get(1).copied().unwrap_or(0));
        let name = names[k].as_slice();
        match which % 12 {
            0 => {
                let v = pick(&VALUES, arg);
                if ed.insert_header_top(name, v).is_ok() {
                    inserted.push((name, v));
                }
            }
            1 => {
                let v = pick(&VALUES, arg);
                if ed.insert_header_before(pick(&KINDS, arg), name, v).is_ok() {
                    inserted.push((name, v));
                }
            }
            2 => {
                let v = pick(&VALUES, arg);
                if ed.append_header(name, v).is_ok() {
                    inserted.push((name, v));
                }
            }
            3 => {
                if msg.header_count() > 0 {
                    let h = msg
                        .header(usize::from(arg) % msg.header_count())
                        .expect("header");
                    if not_cl(&h) {
                        let _ = ed.remove_header(h.index);
                    }
                }
            }
            4 => {
                let kind = pick(&KINDS, arg);
                let vals: Vec<&[u8]> = msg.values(kind).collect();
                if !vals.is_empty() {
                    let _ = ed.remove_value(vals[usize::from(arg / 8) % vals.len()]);
                }
            }
            5 => {
                if let Ok(via) = msg.top_via() {
                    let _ = ed.set_param(
                        &via.params,
                        pick(&PARAMS, arg),
                        pick(&PARAM_VALUES, arg / 4),
                    );
                }
            }
            6 => {
                if let Ok(via) = msg.top_via() {
                    let p = std::str::from_utf8(pick(&PARAMS, arg)).expect("ASCII");
                    let _ = ed.remove_param(&via.params, p);
                }
            }
            7 => {
                if let Some(uri) = msg.request_uri_raw() {
                    let u = pick(&URIS, arg);
                    if ed.replace(uri, u).is_ok() {
                        new_uri = Some(u);
                    }
                }
            }
            8 => {
                if let Some(a) = addr(&msg, arg) {
                    let _ = ed.replace_addr_uri(&a, pick(&URIS, arg / 3));
                }
            }
            9 => {
                if let Some(a) = addr(&msg, arg) {
                    let _ = ed.set_addr_uri_param(
                        &a,
                        pick(&PARAMS, arg / 3),
                        pick(&PARAM_VALUES, arg / 12),
                    );
                }
            }
            10 => {
                let b = pick(&BODIES, arg);
                ed.set_body(b);
                new_body = Some(b);
            }
            _ => {
                if msg.header_count() > 0 {
                    let h = msg
                        .header(usize::from(arg) % msg.header_count())
                        .expect("header");
                    if not_cl(&h) && !h.value.is_empty() {
                        let _ = ed.replace(h.value, pick(&VALUES, arg / 4));
                    }
                }
            }
        }
    }

    let planned = ed.output_len();
    let mut out = vec![0u8; planned.unwrap_or(0)];
    let emitted = ed.emit(&mut out);
    let len = match (planned, emitted) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b);
            a
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b);
            assert!(
                matches!(a, EditError::Overlap | EditError::TooManyEdits),
                "{a:?}"
            );
            return;
        }
        (a, b) => panic!("output_len {a:?} but emit {b:?}"),
    };
    if len > 0 {
        let mut short = vec![0u8; len - 1];
        assert_eq!(
            ed.emit(&mut short),
            Err(EditError::BufferTooSmall { needed: len })
        );
    }

    let out = &out[..len];
    let re = match Message::parse(out, Framing::Datagram) {
        Ok(m) => m,
        // Inserted lines can push a message over the header or line limits, removed ones
        // below the minimum size.
        Err(ParseError::TooManyHeaders | ParseError::LineTooLong) => return,
        Err(ParseError::TooShort) if out.len() < SIP_MIN_MESSAGE => return,
        Err(e) => panic!(
            "edited message does not parse: {e:?}\n{}",
            String::from_utf8_lossy(out)
        ),
    };
    match new_body {
        Some(b) => {
            assert_eq!(re.content_length(), Some(b.len() as u32));
            assert_eq!(re.body(), b);
        }
        None => {
            assert_eq!(re.content_length(), msg.content_length());
            assert_eq!(re.body(), msg.body());
        }
    }
    assert_eq!(re.body_range().end, out.len(), "bytes after the body");
    for (name, value) in &inserted {
        let found: Vec<&[u8]> = re.headers_named(name).map(|h| h.value).collect();
        let shown = String::from_utf8_lossy(name);
        if msg.headers_named(name).next().is_none() {
            assert_eq!(found, [*value], "inserted header {shown}");
        } else {
            // The message had a header of that name (which an edit may have removed).
            assert!(found.contains(value), "inserted header {shown} lost");
        }
    }
    if let Some(u) = new_uri {
        assert_eq!(re.request_uri_raw(), Some(u));
    }
});

/// From, To or the first Contact, by `arg`.
fn addr<'a>(msg: &Message<'a>, arg: u8) -> Option<NameAddr<'a>> {
    match arg % 3 {
        0 => msg.from().ok(),
        1 => msg.to().ok(),
        _ => match msg.contacts().next()?.ok()? {
            siproxd_rs::sip::Contact::Addr(a) => Some(a),
            siproxd_rs::sip::Contact::Star => None,
        },
    }
}
