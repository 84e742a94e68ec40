//! Edits of an [`Sdp`] body, emitted into a caller buffer. Every byte no edit covers is copied
//! unchanged, so a body with no edits comes out identical.

use super::{Address, Attribute, Line, Sdp, SdpError, Section, Span};
use crate::limits::{SDP_MAX_EDITS, SDP_MAX_MEDIA};
use core::fmt::{self, Write as _};
use core::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Eol {
    CrLf,
    Lf,
}

impl Eol {
    fn bytes(self) -> &'static [u8] {
        match self {
            Eol::CrLf => b"\r\n",
            Eol::Lf => b"\n",
        }
    }
}

/// Where a new line goes: after a terminated line (new line then its end), or after an
/// unterminated last line (line end first, keeping the body unterminated). A removal of that
/// last line can leave the output already ending in a line end: then none is led with, or the
/// new line would follow a blank one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NewLine {
    eol: Eol,
    lead: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Insert {
    Nothing,
    Port(u16),
    /// `IP4 a.b.c.d` or `IP6 x:y::z`: the addrtype follows the family.
    Address(IpAddr),
    RtcpLine(u16, NewLine),
    ConnectionLine(IpAddr, NewLine),
}

#[derive(Debug, Clone, Copy)]
struct Splice {
    start: usize,
    end: usize,
    with: Insert,
}

/// Edits to one parsed body. Edits may not overlap ([`SdpError::EditConflict`]).
pub struct Rewriter<'s, 'a> {
    sdp: &'s Sdp<'a>,
    /// Sorted by position; zero-width insertions at one position keep the order they were added.
    splices: heapless::Vec<Splice, SDP_MAX_EDITS>,
    removed_formats: [usize; SDP_MAX_MEDIA],
}

impl<'s, 'a> Rewriter<'s, 'a> {
    pub fn new(sdp: &'s Sdp<'a>) -> Self {
        Rewriter {
            sdp,
            splices: heapless::Vec::new(),
            removed_formats: [0; SDP_MAX_MEDIA],
        }
    }

    pub fn sdp(&self) -> &'s Sdp<'a> {
        self.sdp
    }

    /// Number of edits recorded.
    pub fn edit_count(&self) -> usize {
        self.splices.len()
    }

    fn add(&mut self, start: usize, end: usize, with: Insert) -> Result<(), SdpError> {
        if self.splices.iter().any(|o| start < o.end && o.start < end) {
            return Err(SdpError::EditConflict);
        }
        let at = self
            .splices
            .iter()
            .position(|o| o.start > start || (o.start == start && o.end > end))
            .unwrap_or(self.splices.len());
        self.splices
            .insert(at, Splice { start, end, with })
            .map_err(|_| SdpError::TooManyEdits)
    }

    fn replace(&mut self, span: Span, with: Insert) -> Result<(), SdpError> {
        self.add(span.start, span.end, with)
    }

    fn media(&self, media: usize) -> Result<&'s super::Media<'a>, SdpError> {
        self.sdp.media(media).ok_or(SdpError::NoSuchMedia { media })
    }

    /// Set the address of `o=` (addrtype follows the family of `ip`).
    pub fn set_origin_address(&mut self, ip: IpAddr) -> Result<(), SdpError> {
        let span = self.sdp.origin().ok_or(SdpError::NoOrigin)?.address.span;
        self.replace(span, Insert::Address(ip))
    }

    /// Set the address of one `o=`, `c=` or `a=rtcp:` address (from [`Sdp::connections`] or the
    /// view). A multicast `/ttl` suffix goes with the old address: the relay is unicast.
    pub fn set_address(&mut self, address: &Address<'_>, ip: IpAddr) -> Result<(), SdpError> {
        self.replace(address.span, Insert::Address(ip))
    }

    /// Set the address of every `c=` line of a section; returns how many there were.
    pub fn set_connection_address(
        &mut self,
        section: Section,
        ip: IpAddr,
    ) -> Result<usize, SdpError> {
        let mut n = 0;
        for c in self.sdp.connections(section) {
            self.set_address(&c, ip)?;
            n += 1;
        }
        if n == 0 {
            return Err(SdpError::NoConnection);
        }
        Ok(n)
    }

    /// Set the port of an `m=` line; a `/n` count stays.
    pub fn set_media_port(&mut self, media: usize, port: u16) -> Result<(), SdpError> {
        let span = self.media(media)?.port_span;
        self.replace(span, Insert::Port(port))
    }

    /// Set the port of `a=rtcp:` and, if the line has one and `ip` is given, its address.
    pub fn set_rtcp(
        &mut self,
        media: usize,
        port: u16,
        ip: Option<IpAddr>,
    ) -> Result<(), SdpError> {
        let rtcp = self.media(media)?.rtcp.ok_or(SdpError::NoRtcp)?;
        self.replace(rtcp.port_span, Insert::Port(port))?;
        if let (Some(ip), Some(a)) = (ip, rtcp.address) {
            self.replace(a.span, Insert::Address(ip))?;
        }
        Ok(())
    }

    /// Add `a=rtcp:PORT` at the end of a media section.
    pub fn add_rtcp(&mut self, media: usize, port: u16) -> Result<(), SdpError> {
        let m = self.media(media)?;
        let last = m.end_line.checked_sub(1).unwrap_or(m.first_line);
        let (at, nl) = self.after_line(last);
        self.add(at, at, Insert::RtcpLine(port, nl))
    }

    /// Add a media-level `c=IN IP4|IP6 ip` after `m=` (and its `i=` lines, RFC 8866 order).
    pub fn add_connection(&mut self, media: usize, ip: IpAddr) -> Result<(), SdpError> {
        let m = self.media(media)?;
        let mut last = m.first_line;
        while self
            .sdp
            .line(last + 1)
            .is_some_and(|(k, _)| k == b'i' && last + 1 < m.end_line)
        {
            last += 1;
        }
        let (at, nl) = self.after_line(last);
        self.add(at, at, Insert::ConnectionLine(ip, nl))
    }

    /// Insertion point after line `index`, and how to terminate the new line.
    fn after_line(&self, index: usize) -> (usize, NewLine) {
        // Only a '\n' ends a line: a last line may end in a bare '\r'.
        let eol_of = |l: &Line| {
            let body = self.sdp.body;
            let ended = l.next.checked_sub(1).and_then(|i| body.get(i)) == Some(&b'\n');
            ended.then(|| match body.get(l.end) {
                Some(b'\r') => Eol::CrLf,
                _ => Eol::Lf,
            })
        };
        let Some(l) = self.sdp.lines.get(index) else {
            let nl = NewLine {
                eol: Eol::CrLf,
                lead: false,
            };
            return (self.sdp.body.len(), nl);
        };
        match eol_of(l) {
            Some(eol) => (l.next, NewLine { eol, lead: false }),
            None => {
                let eol = self.sdp.lines.first().and_then(eol_of).unwrap_or(Eol::CrLf);
                (l.next, NewLine { eol, lead: true })
            }
        }
    }

    /// Remove line `index` with its line end.
    pub fn remove_line(&mut self, index: usize) -> Result<(), SdpError> {
        let l = *self
            .sdp
            .lines
            .get(index)
            .ok_or(SdpError::NoSuchLine { line: index + 1 })?;
        self.add(l.start, l.next, Insert::Nothing)
    }

    /// Remove the attribute lines of a section that `pred` selects; returns how many.
    pub fn remove_attributes(
        &mut self,
        section: Section,
        mut pred: impl FnMut(&Attribute<'a>) -> bool,
    ) -> Result<usize, SdpError> {
        let sdp = self.sdp;
        let mut n = 0;
        for a in sdp.attributes(section).filter(|a| pred(a)) {
            self.remove_line(a.line)?;
            n += 1;
        }
        Ok(n)
    }

    /// Remove the attributes named `name` from a section.
    pub fn remove_attribute(&mut self, section: Section, name: &[u8]) -> Result<usize, SdpError> {
        self.remove_attributes(section, |a| a.name == name)
    }

    /// Remove every ICE line (RFC 8839) of a section.
    pub fn remove_ice(&mut self, section: Section) -> Result<usize, SdpError> {
        self.remove_attributes(section, Attribute::is_ice)
    }

    /// Remove a payload type from the `m=` format list together with its `a=rtpmap`, `a=fmtp`
    /// and `a=rtcp-fb` lines (what plugin_codecfilter meant to do, behaviour §8.2).
    /// Returns the number of attribute lines removed.
    pub fn remove_payload_type(
        &mut self,
        media: usize,
        payload_type: &[u8],
    ) -> Result<usize, SdpError> {
        let m = self.media(media)?;
        let total = m.format_list().count();
        let (off, _) = super::Fields::new(m.formats)
            .find(|(_, f)| *f == payload_type)
            .ok_or(SdpError::PayloadTypeNotFound)?;
        let removed = self
            .removed_formats
            .get_mut(media)
            .ok_or(SdpError::NoSuchMedia { media })?;
        if *removed + 1 >= total {
            return Err(SdpError::LastPayloadType);
        }
        // The token and the blank before it: the proto always precedes the formats.
        let start = m.formats_offset + off;
        let blank = start.checked_sub(1).ok_or(SdpError::PayloadTypeNotFound)?;
        self.add(blank, start + payload_type.len(), Insert::Nothing)?;
        if let Some(r) = self.removed_formats.get_mut(media) {
            *r += 1;
        }
        self.remove_attributes(Section::Media(media), |a| {
            matches!(a.name, b"rtpmap" | b"fmtp" | b"rtcp-fb")
                && super::split_first_field(a.value.unwrap_or_default()).0 == payload_type
        })
    }

    /// Length of the body [`Rewriter::emit`] writes.
    pub fn emitted_len(&self) -> usize {
        let mut counter = Counter(0);
        let _ = self.write_to(&mut counter);
        counter.0
    }

    /// Write the rewritten body into `out`; returns its length. On error `out` holds no
    /// usable body.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, SdpError> {
        let mut w = Out { buf: out, len: 0 };
        self.write_to(&mut w)
            .map_err(|_| SdpError::BufferTooSmall)?;
        Ok(w.len)
    }

    fn write_to(&self, w: &mut impl Sink) -> fmt::Result {
        let w = &mut LastByte {
            inner: w,
            last: None,
        };
        let body = self.sdp.body;
        let mut pos = 0;
        for s in &self.splices {
            w.put(body.get(pos..s.start).ok_or(fmt::Error)?)?;
            match s.with {
                Insert::Nothing => {}
                Insert::Port(p) => write!(w, "{p}")?,
                Insert::Address(ip) => write_address(w, ip)?,
                Insert::RtcpLine(p, nl) => {
                    write_line(w, nl, |w| write!(w, "a=rtcp:{p}"))?;
                }
                Insert::ConnectionLine(ip, nl) => {
                    write_line(w, nl, |w| {
                        w.put(b"c=IN ")?;
                        write_address(w, ip)
                    })?;
                }
            }
            pos = s.end;
        }
        w.put(body.get(pos..).ok_or(fmt::Error)?)
    }
}

fn write_address(w: &mut impl Sink, ip: IpAddr) -> fmt::Result {
    match ip {
        IpAddr::V4(a) => write!(w, "IP4 {a}"),
        IpAddr::V6(a) => write!(w, "IP6 {a}"),
    }
}

fn write_line<S: Sink>(
    w: &mut LastByte<'_, S>,
    nl: NewLine,
    content: impl FnOnce(&mut LastByte<'_, S>) -> fmt::Result,
) -> fmt::Result {
    if nl.lead {
        match w.last {
            None | Some(b'\n') => {}
            // A stray CR already written: complete it rather than add a second one.
            Some(b'\r') => w.put(b"\n")?,
            Some(_) => w.put(nl.eol.bytes())?,
        }
    }
    content(w)?;
    if !nl.lead {
        w.put(nl.eol.bytes())?;
    }
    Ok(())
}

trait Sink: fmt::Write {
    fn put(&mut self, bytes: &[u8]) -> fmt::Result;
}

/// Remembers the last byte written, so an inserted line knows whether it starts a line.
struct LastByte<'w, S> {
    inner: &'w mut S,
    last: Option<u8>,
}

impl<S: Sink> Sink for LastByte<'_, S> {
    fn put(&mut self, bytes: &[u8]) -> fmt::Result {
        self.inner.put(bytes)?;
        if let Some(&b) = bytes.last() {
            self.last = Some(b);
        }
        Ok(())
    }
}

impl<S: Sink> fmt::Write for LastByte<'_, S> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.put(s.as_bytes())
    }
}

/// Writes into the caller's buffer, failing when it is full.
struct Out<'o> {
    buf: &'o mut [u8],
    len: usize,
}

impl Sink for Out<'_> {
    fn put(&mut self, bytes: &[u8]) -> fmt::Result {
        let end = self.len.checked_add(bytes.len()).ok_or(fmt::Error)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}

impl fmt::Write for Out<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.put(s.as_bytes())
    }
}

/// Counts bytes without writing them.
struct Counter(usize);

impl Sink for Counter {
    fn put(&mut self, bytes: &[u8]) -> fmt::Result {
        self.0 = self.0.saturating_add(bytes.len());
        Ok(())
    }
}

impl fmt::Write for Counter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.put(s.as_bytes())
    }
}
