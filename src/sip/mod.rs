//! Zero-copy SIP messages: a view over the received bytes ([`Message`]), typed accessors
//! that parse on demand, message validation, and an [`Editor`] that emits a rewritten copy
//! into a caller buffer while keeping every unedited byte as it was.
//!
//! ```
//! use siproxd_rs::sip::{Editor, Message, Framing, Rport};
//!
//! let bytes = b"REGISTER sip:example.com SIP/2.0\r\n\
//! Via: SIP/2.0/UDP 192.168.1.2:5060;branch=z9hG4bK7;rport\r\n\
//! From: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\n\
//! Call-ID: abc\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@192.168.1.2>\r\n\
//! Content-Length: 0\r\n\r\n";
//! let msg = Message::parse(bytes, Framing::Datagram).unwrap();
//! msg.validate().unwrap();
//! let via = msg.top_via().unwrap();
//! assert_eq!(via.rport(), Some(Rport::Flag));
//!
//! // Fill in rport/received and masquerade the Contact; all other bytes stay as they were.
//! let mut out = [0u8; 1024];
//! let mut ed = Editor::new(&msg);
//! ed.set_param(&via.params, b"rport", Some(b"40123")).unwrap();
//! ed.set_param(&via.params, b"received", Some(b"203.0.113.9")).unwrap();
//! let contact = msg.values(siproxd_rs::sip::HeaderName::Contact).next().unwrap();
//! let uri = siproxd_rs::sip::NameAddr::parse(contact).unwrap().uri;
//! ed.replace(uri.hostport_raw, b"203.0.113.9:5060").unwrap();
//! let n = ed.emit(&mut out).unwrap();
//! let text = std::str::from_utf8(&out[..n]).unwrap();
//! assert!(text.contains(";branch=z9hG4bK7;rport=40123;received=203.0.113.9\r\n"));
//! assert!(text.contains("Contact: <sip:alice@203.0.113.9:5060>\r\n"));
//! ```

mod addr;
mod editor;
mod error;
mod fields;
mod header;
mod message;
mod scan;
mod status;
mod uri;
mod validate;
mod via;

pub use addr::{Contact, NameAddr};
pub use editor::{Edit, EditError, Editor};
pub use error::{ParseError, ProxyAction};
pub use fields::{CSeq, ContentType, Credentials};
pub use header::{unquote, HeaderName, Param, ParamIter, Params, Tokens, ValueIter};
pub use message::{
    frame_stream, looks_like_request, Framing, Header, Message, StartLine, StreamFrame,
};
pub use scan::write_u32;
pub use status::Status;
pub use uri::{escaped_eq, unbracket, unescape_into, Host, Scheme, UnescapeError, Uri};
pub use via::{Rport, Via, MAGIC_COOKIE};
