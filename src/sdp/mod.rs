//! SDP (RFC 8866) zero-copy view and byte-preserving rewriter.
//!
//! [`Sdp::parse`] indexes the lines of a body (CRLF or bare LF) into a fixed-capacity table and
//! checks the lines the proxy relies on (`v=`, `o=`, `c=`, `m=`, `a=rtcp`). Accessors hand out
//! slices of the original body. [`Rewriter`] collects edits and emits a new body into a caller
//! buffer, copying every byte it was not told to change. [`rewrite_for_relay`] is the one-call
//! rewrite the proxy uses when it relays media (behaviour §5.3, decisions §6).

mod relay;
mod rewrite;

pub use relay::{rewrite_for_relay, StreamRewrite};
pub use rewrite::Rewriter;

use crate::limits::{SDP_MAX_LINES, SDP_MAX_MEDIA};
use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What is wrong with an SDP body, or why an edit cannot be made. `line` numbers are 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdpError {
    /// The body has no lines.
    Empty,
    /// The first line is not `v=`.
    MissingVersion,
    /// `v=` is not `0`.
    BadVersion,
    /// A line is not of the form `<letter>=<value>`.
    BadLine { line: usize },
    /// More lines than `limits::SDP_MAX_LINES`.
    TooManyLines,
    /// More `m=` sections than `limits::SDP_MAX_MEDIA`.
    TooManyMedia,
    /// `o=` does not have its six fields or its address is malformed.
    BadOrigin { line: usize },
    /// `c=` does not have `nettype addrtype address` or the address is malformed.
    BadConnection { line: usize },
    /// A nettype other than `IN`.
    UnknownNetType { line: usize },
    /// An addrtype other than `IP4` / `IP6`.
    UnknownAddrType { line: usize },
    /// `m=` lacks media, port or proto, or has a bad `/count`.
    BadMedia { line: usize },
    /// A port that is not a number in 0..=65535.
    BadPort { line: usize },
    /// `a=rtcp:` is not `port [nettype addrtype address]` (RFC 3605).
    BadRtcp { line: usize },
    /// An edit names a media section the body does not have.
    NoSuchMedia { media: usize },
    /// An edit names a line the body does not have.
    NoSuchLine { line: usize },
    /// An edit of `o=` on a body without one.
    NoOrigin,
    /// An edit of `c=` on a section without one.
    NoConnection,
    /// An edit of `a=rtcp:` on a media section without one.
    NoRtcp,
    /// A relayed media section has neither its own `c=` nor a session `c=` (behaviour §5.3 rule 1).
    MissingConnection { media: usize },
    /// The payload type is not in the `m=` format list.
    PayloadTypeNotFound,
    /// Removing the payload type would leave the `m=` line without formats.
    LastPayloadType,
    /// RTP port + 1 does not fit a port number.
    RtcpPortOverflow { media: usize },
    /// Two edits touch the same bytes.
    EditConflict,
    /// More edits than `limits::SDP_MAX_EDITS`.
    TooManyEdits,
    /// The relay rewrite got a stream list whose length differs from the number of `m=` sections.
    StreamCountMismatch { expected: usize, got: usize },
    /// The output buffer cannot hold the rewritten body.
    BufferTooSmall,
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SdpError::*;
        match *self {
            Empty => write!(f, "SDP body is empty"),
            MissingVersion => write!(f, "SDP does not start with v="),
            BadVersion => write!(f, "SDP v= is not 0"),
            BadLine { line } => write!(f, "SDP line {line} is not <type>=<value>"),
            TooManyLines => write!(f, "SDP has more than {SDP_MAX_LINES} lines"),
            TooManyMedia => write!(f, "SDP has more than {SDP_MAX_MEDIA} m= sections"),
            BadOrigin { line } => write!(f, "SDP line {line}: malformed o="),
            BadConnection { line } => write!(f, "SDP line {line}: malformed c= address"),
            UnknownNetType { line } => write!(f, "SDP line {line}: nettype is not IN"),
            UnknownAddrType { line } => write!(f, "SDP line {line}: addrtype is not IP4/IP6"),
            BadMedia { line } => write!(f, "SDP line {line}: malformed m="),
            BadPort { line } => write!(f, "SDP line {line}: bad port"),
            BadRtcp { line } => write!(f, "SDP line {line}: malformed a=rtcp"),
            NoSuchMedia { media } => write!(f, "SDP has no media section {media}"),
            NoSuchLine { line } => write!(f, "SDP has no line {line}"),
            NoOrigin => write!(f, "SDP has no o= line"),
            NoConnection => write!(f, "SDP section has no c= line"),
            NoRtcp => write!(f, "SDP media section has no a=rtcp line"),
            MissingConnection { media } => {
                write!(
                    f,
                    "SDP media section {media} has no c= and there is no session c="
                )
            }
            PayloadTypeNotFound => write!(f, "payload type not in the m= format list"),
            LastPayloadType => write!(f, "removing the payload type would empty the m= line"),
            RtcpPortOverflow { media } => {
                write!(f, "media section {media}: RTP port + 1 overflows")
            }
            EditConflict => write!(f, "two SDP edits overlap"),
            TooManyEdits => write!(f, "too many SDP edits"),
            StreamCountMismatch { expected, got } => {
                write!(f, "{got} relay streams given for {expected} m= sections")
            }
            BufferTooSmall => write!(f, "output buffer too small for the rewritten SDP"),
        }
    }
}

/// `IP4` or `IP6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrType {
    Ip4,
    Ip6,
}

/// The `nettype addrtype address` triple of `o=`, `c=` and `a=rtcp:`.
///
/// Equality compares what the address says, not where it sits: the same `c=` in a body and in
/// its rewrite (where an earlier edit shifted it) is equal.
#[derive(Debug, Clone, Copy, Eq)]
pub struct Address<'a> {
    pub addr_type: AddrType,
    /// The address as written, without a `/ttl` or `/number` suffix.
    pub host: &'a [u8],
    /// The address as an IP, `None` when it is a host name (RFC 8866 allows FQDNs).
    pub ip: Option<IpAddr>,
    /// A multicast `/ttl[/number]` suffix, without the leading `/`.
    pub suffix: Option<&'a [u8]>,
    /// Body offsets of `addrtype address[/suffix]`, the bytes an address edit replaces.
    span: Span,
}

impl PartialEq for Address<'_> {
    fn eq(&self, other: &Self) -> bool {
        // Destructured so that a new field has to be placed on one side or the other.
        let Address {
            addr_type,
            host,
            ip,
            suffix,
            span: _,
        } = *self;
        (addr_type, host, ip, suffix) == (other.addr_type, other.host, other.ip, other.suffix)
    }
}

impl Address<'_> {
    /// `0.0.0.0` (RFC 2543 hold) or `::`.
    pub fn is_unspecified(&self) -> bool {
        matches!(self.ip, Some(ip) if ip.is_unspecified())
    }
}

/// `o=username sess-id sess-version nettype addrtype address`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    pub username: &'a [u8],
    pub session_id: &'a [u8],
    pub session_version: &'a [u8],
    pub address: Address<'a>,
}

/// `a=rtcp:port [nettype addrtype address]` (RFC 3605). Equality ignores body offsets.
#[derive(Debug, Clone, Copy, Eq)]
pub struct Rtcp<'a> {
    pub port: u16,
    pub address: Option<Address<'a>>,
    port_span: Span,
}

impl PartialEq for Rtcp<'_> {
    fn eq(&self, other: &Self) -> bool {
        let Rtcp {
            port,
            address,
            port_span: _,
        } = *self;
        (port, address) == (other.port, other.address)
    }
}

/// Media direction attribute (RFC 3264: sendrecv, sendonly, recvonly, inactive); absent
/// means `SendRecv`. Not the way a stream crosses the router (`rtp::Direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaDirection {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl MediaDirection {
    fn from_attribute(name: &[u8]) -> Option<MediaDirection> {
        Some(match name {
            b"sendrecv" => MediaDirection::SendRecv,
            b"sendonly" => MediaDirection::SendOnly,
            b"recvonly" => MediaDirection::RecvOnly,
            b"inactive" => MediaDirection::Inactive,
            _ => return None,
        })
    }
}

/// A part of an SDP body: the session part or a media section (0-based, in `m=` order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Session,
    Media(usize),
}

/// One `m=` section. Equality compares the section's values, not its line or byte positions.
#[derive(Debug, Clone, Copy, Eq)]
pub struct Media<'a> {
    /// `audio`, `video`, ...
    pub media: &'a [u8],
    pub port: u16,
    /// The `/n` of `port/n`, 1 when absent.
    pub port_count: u16,
    pub proto: &'a [u8],
    /// The format list as written (payload types for RTP), possibly empty.
    pub formats: &'a [u8],
    /// The section's own (first) `c=`.
    pub connection: Option<Address<'a>>,
    pub rtcp: Option<Rtcp<'a>>,
    pub rtcp_mux: bool,
    /// The section's own direction attribute.
    pub direction: Option<MediaDirection>,
    /// Line index of `m=`, end of the section (exclusive line index).
    first_line: usize,
    end_line: usize,
    port_span: Span,
    formats_offset: usize,
}

impl PartialEq for Media<'_> {
    fn eq(&self, other: &Self) -> bool {
        let Media {
            media,
            port,
            port_count,
            proto,
            formats,
            connection,
            rtcp,
            rtcp_mux,
            direction,
            first_line: _,
            end_line: _,
            port_span: _,
            formats_offset: _,
        } = *self;
        (media, port, port_count, proto, formats)
            == (
                other.media,
                other.port,
                other.port_count,
                other.proto,
                other.formats,
            )
            && (connection, rtcp, rtcp_mux, direction)
                == (
                    other.connection,
                    other.rtcp,
                    other.rtcp_mux,
                    other.direction,
                )
    }
}

impl<'a> Media<'a> {
    /// The format tokens of the `m=` line.
    pub fn format_list(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        Fields::new(self.formats).map(|(_, f)| f)
    }

    /// `proto` starts with `RTP/` (behaviour §5.3), e.g. `RTP/AVP`, `RTP/SAVPF`.
    pub fn is_rtp(&self) -> bool {
        self.proto
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"RTP/"))
            || contains_ignore_case(self.proto, b"/RTP/")
    }
}

/// What the relay needs to know about one media section, session defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stream<'a> {
    /// The media `c=`, else the session `c=`.
    pub address: Option<Address<'a>>,
    pub port: u16,
    pub port_count: u16,
    /// `a=rtcp:` port, else port + 1 (`None` if that overflows). Read with `rtcp_mux`.
    pub rtcp_port: Option<u16>,
    pub rtcp_mux: bool,
    /// Media direction attribute, else session one, else `SendRecv`.
    pub direction: MediaDirection,
    /// `c=0.0.0.0` (or `::`), or direction `sendonly` / `inactive`.
    pub is_hold: bool,
    /// Port 0: the stream is disabled and not relayed.
    pub disabled: bool,
}

/// `a=name[:value]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    pub name: &'a [u8],
    pub value: Option<&'a [u8]>,
    /// Index of the line in the body (what [`Rewriter::remove_line`] takes).
    pub line: usize,
}

impl Attribute<'_> {
    /// An ICE attribute (RFC 8839): `candidate`, `remote-candidates`, `end-of-candidates`,
    /// `ice-*` (ufrag, pwd, options, lite, mismatch, pacing, ...).
    pub fn is_ice(&self) -> bool {
        matches!(
            self.name,
            b"candidate" | b"remote-candidates" | b"end-of-candidates"
        ) || self.name.starts_with(b"ice-")
    }
}

/// ICE attributes of one section.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ice<'a> {
    pub ufrag: Option<&'a [u8]>,
    pub pwd: Option<&'a [u8]>,
    pub options: Option<&'a [u8]>,
    pub lite: bool,
    pub mismatch: bool,
    pub remote_candidates: Option<&'a [u8]>,
    pub end_of_candidates: bool,
    pub candidates: usize,
}

impl Ice<'_> {
    pub fn is_empty(&self) -> bool {
        *self == Ice::default()
    }
}

/// `a=rtpmap:PT encoding/clock[/params]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpMap<'a> {
    pub payload_type: &'a [u8],
    pub encoding: &'a [u8],
    pub clock_rate: u32,
    pub params: Option<&'a [u8]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
}

/// One line: `start..end` is the content without line end, `next` the start of the next line.
#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    end: usize,
    next: usize,
    /// The type letter, 0 for a blank line.
    kind: u8,
}

/// A parsed SDP body. Holds only offsets into the borrowed bytes.
#[derive(Debug, Clone)]
pub struct Sdp<'a> {
    body: &'a [u8],
    lines: heapless::Vec<Line, SDP_MAX_LINES>,
    media: heapless::Vec<Media<'a>, SDP_MAX_MEDIA>,
    origin: Option<Origin<'a>>,
    connection: Option<Address<'a>>,
    direction: Option<MediaDirection>,
}

impl<'a> Sdp<'a> {
    /// Index and check an SDP body.
    pub fn parse(body: &'a [u8]) -> Result<Sdp<'a>, SdpError> {
        let mut sdp = Sdp {
            body,
            lines: heapless::Vec::new(),
            media: heapless::Vec::new(),
            origin: None,
            connection: None,
            direction: None,
        };
        sdp.index_lines()?;
        let first = sdp.lines.iter().find(|l| l.kind != 0);
        match first {
            None => return Err(SdpError::Empty),
            Some(l) if l.kind != b'v' => return Err(SdpError::MissingVersion),
            Some(l) => {
                if trim(sdp.value_of(l)) != b"0" {
                    return Err(SdpError::BadVersion);
                }
            }
        }
        for i in 0..sdp.lines.len() {
            sdp.parse_line(i)?;
        }
        let total = sdp.lines.len();
        if let Some(last) = sdp.media.last_mut() {
            last.end_line = total;
        }
        Ok(sdp)
    }

    fn index_lines(&mut self) -> Result<(), SdpError> {
        let body = self.body;
        let mut pos = 0;
        while pos < body.len() {
            let rest = body.get(pos..).unwrap_or_default();
            let (mut end, next) = match rest.iter().position(|&b| b == b'\n') {
                Some(i) => (pos + i, pos + i + 1),
                None => (body.len(), body.len()),
            };
            if end > pos && body.get(end - 1) == Some(&b'\r') {
                end -= 1;
            }
            let content = body.get(pos..end).unwrap_or_default();
            let line_no = self.lines.len() + 1;
            let kind = if content.iter().all(|b| is_ws(*b) || *b == b'\r') {
                0
            } else {
                match content {
                    [k, b'=', ..] if k.is_ascii_alphabetic() => *k,
                    _ => return Err(SdpError::BadLine { line: line_no }),
                }
            };
            let line = Line {
                start: pos,
                end,
                next,
                kind,
            };
            self.lines.push(line).map_err(|_| SdpError::TooManyLines)?;
            pos = next;
        }
        Ok(())
    }

    fn value_of(&self, l: &Line) -> &'a [u8] {
        self.body.get(l.start + 2..l.end).unwrap_or_default()
    }

    fn parse_line(&mut self, i: usize) -> Result<(), SdpError> {
        let Some(l) = self.lines.get(i).copied() else {
            return Ok(());
        };
        let line = i + 1;
        let base = l.start + 2;
        let value = self.value_of(&l);
        match l.kind {
            b'm' => {
                let m = parse_media(value, base, i, line)?;
                if let Some(last) = self.media.last_mut() {
                    last.end_line = i;
                }
                self.media.push(m).map_err(|_| SdpError::TooManyMedia)?;
            }
            b'o' if self.media.is_empty() && self.origin.is_none() => {
                self.origin = Some(parse_origin(value, base, line)?);
            }
            b'c' => {
                let bad = SdpError::BadConnection { line };
                let c = parse_address(value, base, line, bad)?;
                let slot = match self.media.last_mut() {
                    Some(m) => &mut m.connection,
                    None => &mut self.connection,
                };
                if slot.is_none() {
                    *slot = Some(c);
                }
            }
            b'a' => {
                let (name, val) = split_attribute(value);
                if let Some(d) = MediaDirection::from_attribute(name) {
                    match self.media.last_mut() {
                        Some(m) => m.direction = Some(d),
                        None => self.direction = Some(d),
                    }
                } else if name == b"rtcp" {
                    let val_offset = base + name.len() + 1;
                    let r = parse_rtcp(val.unwrap_or_default(), val_offset, line)?;
                    if let Some(m) = self.media.last_mut() {
                        m.rtcp.get_or_insert(r);
                    }
                } else if name == b"rtcp-mux" {
                    if let Some(m) = self.media.last_mut() {
                        m.rtcp_mux = true;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The body this view indexes.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// Number of lines (blank lines included).
    pub fn line_count(&self) -> usize {
        self.lines.len()
    }

    /// Type letter and value of line `index`.
    pub fn line(&self, index: usize) -> Option<(u8, &'a [u8])> {
        let l = self.lines.get(index)?;
        Some((l.kind, self.value_of(l)))
    }

    /// The first session-level line of a type, e.g. `b's'` for the session name.
    pub fn session_line(&self, kind: u8) -> Option<&'a [u8]> {
        let (first, end) = self.section_range(Section::Session)?;
        self.lines
            .get(first..end)?
            .iter()
            .find(|l| l.kind == kind)
            .map(|l| self.value_of(l))
    }

    pub fn origin(&self) -> Option<&Origin<'a>> {
        self.origin.as_ref()
    }

    /// Session-level `c=`.
    pub fn connection(&self) -> Option<&Address<'a>> {
        self.connection.as_ref()
    }

    /// Session-level direction attribute.
    pub fn direction(&self) -> Option<MediaDirection> {
        self.direction
    }

    pub fn media_count(&self) -> usize {
        self.media.len()
    }

    pub fn media(&self, index: usize) -> Option<&Media<'a>> {
        self.media.get(index)
    }

    pub fn media_sections(&self) -> impl Iterator<Item = &Media<'a>> {
        self.media.iter()
    }

    /// Media section `index` with session defaults applied.
    pub fn stream(&self, index: usize) -> Option<Stream<'a>> {
        let m = self.media.get(index)?;
        let address = m.connection.or(self.connection);
        let direction = m
            .direction
            .or(self.direction)
            .unwrap_or(MediaDirection::SendRecv);
        let rtcp_port = match m.rtcp {
            Some(r) => Some(r.port),
            None => m.port.checked_add(1),
        };
        Some(Stream {
            address,
            port: m.port,
            port_count: m.port_count,
            rtcp_port,
            rtcp_mux: m.rtcp_mux,
            direction,
            is_hold: address.is_some_and(|a| a.is_unspecified())
                || matches!(
                    direction,
                    MediaDirection::SendOnly | MediaDirection::Inactive
                ),
            disabled: m.port == 0,
        })
    }

    /// Line index range `[first, end)` of a section.
    fn section_range(&self, section: Section) -> Option<(usize, usize)> {
        match section {
            Section::Session => {
                let end = self
                    .media
                    .first()
                    .map_or(self.lines.len(), |m| m.first_line);
                Some((0, end))
            }
            Section::Media(i) => self.media.get(i).map(|m| (m.first_line, m.end_line)),
        }
    }

    /// Every `c=` of a section (RFC 8866 allows several at media level).
    pub fn connections(&self, section: Section) -> impl Iterator<Item = Address<'a>> + '_ {
        let (first, end) = self.section_range(section).unwrap_or((0, 0));
        self.lines
            .get(first..end)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .filter(|(_, l)| l.kind == b'c')
            .filter_map(move |(k, l)| {
                let bad = SdpError::BadConnection {
                    line: first + k + 1,
                };
                parse_address(self.value_of(l), l.start + 2, first + k + 1, bad).ok()
            })
    }

    /// Attributes of a section, in order.
    pub fn attributes(&self, section: Section) -> impl Iterator<Item = Attribute<'a>> + '_ {
        let (first, end) = self.section_range(section).unwrap_or((0, 0));
        self.lines
            .get(first..end)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .filter(|(_, l)| l.kind == b'a')
            .map(move |(k, l)| {
                let (name, value) = split_attribute(self.value_of(l));
                Attribute {
                    name,
                    value,
                    line: first + k,
                }
            })
    }

    /// The first attribute of a section with this name.
    pub fn attribute(&self, section: Section, name: &[u8]) -> Option<Attribute<'a>> {
        self.attributes(section).find(|a| a.name == name)
    }

    /// `a=candidate` values of a section.
    pub fn candidates(&self, section: Section) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.attributes(section)
            .filter(|a| a.name == b"candidate")
            .map(|a| a.value.unwrap_or_default())
    }

    /// ICE attributes of a section (RFC 8839).
    pub fn ice(&self, section: Section) -> Ice<'a> {
        let mut ice = Ice::default();
        for a in self.attributes(section) {
            match a.name {
                b"ice-ufrag" => ice.ufrag = a.value,
                b"ice-pwd" => ice.pwd = a.value,
                b"ice-options" => ice.options = a.value,
                b"ice-lite" => ice.lite = true,
                b"ice-mismatch" => ice.mismatch = true,
                b"remote-candidates" => ice.remote_candidates = a.value,
                b"end-of-candidates" => ice.end_of_candidates = true,
                b"candidate" => ice.candidates += 1,
                _ => {}
            }
        }
        ice
    }

    /// `a=rtpmap` lines of a media section; malformed ones are skipped.
    pub fn rtpmaps(&self, media: usize) -> impl Iterator<Item = RtpMap<'a>> + '_ {
        // An unknown media index has no lines, so no attributes.
        self.attributes(Section::Media(media))
            .filter(|a| a.name == b"rtpmap")
            .filter_map(|a| parse_rtpmap(a.value.unwrap_or_default()))
    }

    /// The `a=rtpmap` of a payload type.
    pub fn rtpmap(&self, media: usize, payload_type: &[u8]) -> Option<RtpMap<'a>> {
        self.rtpmaps(media).find(|r| r.payload_type == payload_type)
    }

    /// The parameters of `a=fmtp:PT params`.
    pub fn fmtp(&self, media: usize, payload_type: &[u8]) -> Option<&'a [u8]> {
        self.media.get(media)?;
        self.attributes(Section::Media(media))
            .filter(|a| a.name == b"fmtp")
            .find_map(|a| {
                let v = a.value?;
                let (pt, rest) = split_first_field(v);
                (pt == payload_type).then_some(rest)
            })
    }

    /// Encoding name of a payload type: its `a=rtpmap`, else the RFC 3551 static assignment.
    pub fn encoding_name(&self, media: usize, payload_type: &[u8]) -> Option<&'a [u8]> {
        match self.rtpmap(media, payload_type) {
            Some(r) => Some(r.encoding),
            None => static_encoding(payload_type),
        }
    }

    /// Payload types of a media section whose encoding name contains `name`, ignoring case.
    /// A substring, as siproxd's plugin_codecfilter matched: `G72` blocks G722, G723, G729.
    pub fn payload_types_matching<'s>(
        &'s self,
        media: usize,
        name: &'s [u8],
    ) -> impl Iterator<Item = &'a [u8]> + 's {
        self.media
            .get(media)
            .into_iter()
            .flat_map(|m| m.format_list())
            .filter(move |pt| {
                self.encoding_name(media, pt)
                    .is_some_and(|enc| contains_ignore_case(enc, name))
            })
    }
}

/// RFC 3551 static payload types that are commonly sent without `a=rtpmap`.
fn static_encoding(pt: &[u8]) -> Option<&'static [u8]> {
    Some(match pt {
        b"0" => b"PCMU",
        b"3" => b"GSM",
        b"4" => b"G723",
        b"5" | b"6" | b"16" | b"17" => b"DVI4",
        b"7" => b"LPC",
        b"8" => b"PCMA",
        b"9" => b"G722",
        b"10" | b"11" => b"L16",
        b"12" => b"QCELP",
        b"13" => b"CN",
        b"14" => b"MPA",
        b"15" => b"G728",
        b"18" => b"G729",
        b"25" => b"CelB",
        b"26" => b"JPEG",
        b"28" => b"nv",
        b"31" => b"H261",
        b"32" => b"MPV",
        b"33" => b"MP2T",
        b"34" => b"H263",
        _ => return None,
    })
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|b| !is_ws(*b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !is_ws(*b)).map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or_default()
}

fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

/// `name[:value]` of an attribute line value.
fn split_attribute(v: &[u8]) -> (&[u8], Option<&[u8]>) {
    match v.iter().position(|&b| b == b':') {
        Some(i) => (v.get(..i).unwrap_or_default(), v.get(i + 1..)),
        None => (trim(v), None),
    }
}

/// The first whitespace-separated field and the trimmed rest.
fn split_first_field(v: &[u8]) -> (&[u8], &[u8]) {
    let v = trim(v);
    let i = v.iter().position(|b| is_ws(*b)).unwrap_or(v.len());
    (
        v.get(..i).unwrap_or_default(),
        trim(v.get(i..).unwrap_or_default()),
    )
}

/// Whitespace-separated fields with their offsets.
struct Fields<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    fn new(s: &'a [u8]) -> Self {
        Fields { s, pos: 0 }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = (usize, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.s.get(self.pos..)?;
        let start = self.pos + rest.iter().position(|b| !is_ws(*b))?;
        let tail = self.s.get(start..)?;
        let len = tail.iter().position(|b| is_ws(*b)).unwrap_or(tail.len());
        self.pos = start + len;
        Some((start, tail.get(..len)?))
    }
}

/// A decimal number of at most 5 digits that fits a port.
fn parse_u16(s: &[u8]) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = s.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    u16::try_from(n).ok()
}

/// `nettype addrtype address` given as three fields; `bad` is the error for a malformed address.
fn address_from_fields<'a>(
    fields: [(usize, &'a [u8]); 3],
    base: usize,
    line: usize,
    bad: SdpError,
) -> Result<Address<'a>, SdpError> {
    let [(_, nettype), (at_off, addrtype), (addr_off, addr)] = fields;
    if !nettype.eq_ignore_ascii_case(b"IN") {
        return Err(SdpError::UnknownNetType { line });
    }
    let addr_type = if addrtype.eq_ignore_ascii_case(b"IP4") {
        AddrType::Ip4
    } else if addrtype.eq_ignore_ascii_case(b"IP6") {
        AddrType::Ip6
    } else {
        return Err(SdpError::UnknownAddrType { line });
    };
    let (host, suffix) = match addr.iter().position(|&b| b == b'/') {
        Some(i) => (addr.get(..i).unwrap_or_default(), addr.get(i + 1..)),
        None => (addr, None),
    };
    if let Some(s) = suffix {
        if s.is_empty() || !s.iter().all(|b| b.is_ascii_digit() || *b == b'/') {
            return Err(bad);
        }
    }
    let text = core::str::from_utf8(host).map_err(|_| bad)?;
    let ip = match addr_type {
        AddrType::Ip4 => text.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
        AddrType::Ip6 => text.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
    };
    // Not an IP literal of its family: only a host name is acceptable.
    let is_hostname = !host.is_empty()
        && host
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'.')
        && host.iter().any(u8::is_ascii_alphabetic);
    if ip.is_none() && !is_hostname {
        return Err(bad);
    }
    Ok(Address {
        addr_type,
        host,
        ip,
        suffix,
        span: Span {
            start: base + at_off,
            end: base + addr_off + addr.len(),
        },
    })
}

fn parse_address<'a>(
    value: &'a [u8],
    base: usize,
    line: usize,
    bad: SdpError,
) -> Result<Address<'a>, SdpError> {
    let mut f = Fields::new(value);
    match (f.next(), f.next(), f.next(), f.next()) {
        (Some(n), Some(t), Some(a), None) => address_from_fields([n, t, a], base, line, bad),
        _ => Err(bad),
    }
}

fn parse_origin(value: &[u8], base: usize, line: usize) -> Result<Origin<'_>, SdpError> {
    let bad = SdpError::BadOrigin { line };
    let mut f = Fields::new(value);
    let mut next = || f.next().ok_or(bad);
    let (username, session_id, session_version) = (next()?.1, next()?.1, next()?.1);
    let fields = [next()?, next()?, next()?];
    if f.next().is_some() {
        return Err(bad);
    }
    Ok(Origin {
        username,
        session_id,
        session_version,
        address: address_from_fields(fields, base, line, bad)?,
    })
}

fn parse_media<'a>(
    value: &'a [u8],
    base: usize,
    index: usize,
    line: usize,
) -> Result<Media<'a>, SdpError> {
    let bad = SdpError::BadMedia { line };
    let mut f = Fields::new(value);
    let (_, media) = f.next().ok_or(bad)?;
    let (port_off, port_field) = f.next().ok_or(bad)?;
    let (_, proto) = f.next().ok_or(bad)?;
    let (port_text, count) = match port_field.iter().position(|&b| b == b'/') {
        Some(i) => (
            port_field.get(..i).unwrap_or_default(),
            port_field.get(i + 1..),
        ),
        None => (port_field, None),
    };
    let port = parse_u16(port_text).ok_or(SdpError::BadPort { line })?;
    let port_count = match count {
        None => 1,
        Some(c) => parse_u16(c).filter(|n| *n > 0).ok_or(bad)?,
    };
    let (formats_offset, formats) = match f.next() {
        Some((off, _)) => (off, trim(value.get(off..).unwrap_or_default())),
        None => (value.len(), &b""[..]),
    };
    Ok(Media {
        media,
        port,
        port_count,
        proto,
        formats,
        connection: None,
        rtcp: None,
        rtcp_mux: false,
        direction: None,
        first_line: index,
        end_line: index + 1,
        port_span: Span {
            start: base + port_off,
            end: base + port_off + port_text.len(),
        },
        formats_offset: base + formats_offset,
    })
}

fn parse_rtcp(value: &[u8], base: usize, line: usize) -> Result<Rtcp<'_>, SdpError> {
    let bad = SdpError::BadRtcp { line };
    let mut f = Fields::new(value);
    let (port_off, port_text) = f.next().ok_or(bad)?;
    let port = parse_u16(port_text).ok_or(SdpError::BadPort { line })?;
    let address = match (f.next(), f.next(), f.next(), f.next()) {
        (None, ..) => None,
        (Some(n), Some(t), Some(a), None) => Some(address_from_fields([n, t, a], base, line, bad)?),
        _ => return Err(bad),
    };
    Ok(Rtcp {
        port,
        address,
        port_span: Span {
            start: base + port_off,
            end: base + port_off + port_text.len(),
        },
    })
}

fn parse_rtpmap(v: &[u8]) -> Option<RtpMap<'_>> {
    let (payload_type, rest) = split_first_field(v);
    let mut parts = rest.splitn(3, |&b| b == b'/');
    let encoding = parts.next().filter(|e| !e.is_empty())?;
    let clock = parts.next()?;
    if payload_type.is_empty() || clock.is_empty() || clock.len() > 9 {
        return None;
    }
    if !clock.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let clock_rate = clock.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    Some(RtpMap {
        payload_type,
        encoding,
        clock_rate,
        params: parts.next(),
    })
}

#[cfg(test)]
mod tests;
