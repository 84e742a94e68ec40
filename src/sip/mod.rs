//! Zero-copy SIP messages: a view over the received bytes ([`Message`]), typed accessors
//! that parse on demand, message validation, and an [`Editor`] that emits a rewritten copy
//! into a caller buffer while keeping every unedited byte as it was.

mod addr;
mod editor;
mod error;
mod fields;
mod header;
mod message;
mod scan;
mod uri;
mod validate;
mod via;

pub use addr::{Contact, NameAddr};
pub use editor::{Edit, EditError, Editor};
pub use error::{ParseError, ProxyAction};
pub use fields::{CSeq, ContentType, Credentials};
pub use header::{unquote, HeaderName, Param, ParamIter, Params, Tokens, ValueIter};
pub use message::{
    frame_stream, looks_like_request, Header, Message, StartLine, StreamFrame, Transport,
};
pub use scan::write_u32;
pub use uri::{escaped_eq, unescape_into, Host, Scheme, UnescapeError, Uri};
pub use via::{Rport, Via, MAGIC_COOKIE};
