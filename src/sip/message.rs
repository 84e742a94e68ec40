//! The zero-copy message view: start line, an index of header lines kept as offsets in a
//! fixed array, and the body located by Content-Length (RFC 3261 §7, §18.3, §20.14).

use core::ops::Range;

use super::error::ParseError;
use super::header::{HeaderName, ValueIter};
use super::scan::{eq_ic, is_token, is_token_char, parse_u32, trim_lws};
use crate::limits::{SIP_MAX_HEADERS, SIP_MAX_LINE, SIP_MAX_MESSAGE, SIP_MIN_MESSAGE};

/// How a message is delimited in what arrived; it decides what a missing Content-Length
/// means. Not the wire transport (`sansio::Transport`): a UDP datagram is `Datagram`, TCP
/// (and any other stream) is `Stream`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One datagram is one message: no Content-Length means "to the end of the datagram".
    Datagram,
    /// TCP/TLS/WebSocket: the message must carry Content-Length.
    Stream,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine<'a> {
    Request {
        method: &'a [u8],
        uri: &'a [u8],
        version: &'a [u8],
    },
    Response {
        version: &'a [u8],
        code: u16,
        /// Any bytes, possibly empty or non-ASCII.
        reason: &'a [u8],
    },
}

/// Offsets of one header in the buffer (u32 keeps the fixed index small).
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    kind: HeaderName,
    name: (u32, u32),
    value: (u32, u32),
    line: (u32, u32),
}

/// One header line (with its continuation lines) of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub kind: HeaderName,
    /// Position among all header lines of the message.
    pub index: usize,
    /// The name as written (`v`, `MaX-fOrWaRdS`, ...).
    pub name: &'a [u8],
    /// The value without surrounding white space; folds (CRLF SP) are kept inside.
    pub value: &'a [u8],
    /// The whole line from the first byte of the name to its final line end, inclusive.
    pub line: &'a [u8],
}

impl<'a> Header<'a> {
    /// Comma-separated elements of the value.
    pub fn values(&self) -> ValueIter<'a> {
        ValueIter::new(self.value)
    }
}

/// A parsed SIP message borrowing its buffer. Nothing is copied; typed accessors parse on
/// demand and return slices of the buffer.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    buf: &'a [u8],
    start_line: StartLine<'a>,
    /// Offset of the first byte of the start line (leading CRLFs are skipped, RFC 3261 §7.5).
    msg_start: usize,
    /// Offset just after the start line's line end: the top of the header block.
    headers_start: usize,
    entries: [Entry; SIP_MAX_HEADERS],
    count: usize,
    /// Offset of the empty line that ends the headers.
    headers_end: usize,
    body: (usize, usize),
    content_length: Option<u32>,
}

/// Whether bytes that failed to parse were (probably) a request, to choose the reaction.
pub fn looks_like_request(buf: &[u8]) -> bool {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    !buf.get(start..start + 4).is_some_and(|p| eq_ic(p, b"SIP/"))
}

/// What starts a stream (TCP/TLS) receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFrame {
    /// More bytes are needed before a message can be framed.
    Incomplete,
    /// `n` bytes of CR/LF keepalive to consume (a CRLFCRLF ping is answered with CRLF,
    /// RFC 5626).
    Keepalive(usize),
    /// A whole message of `n` bytes starts the buffer; parse `&buf[..n]` as `Stream`.
    Message(usize),
}

/// Frames the next message of a stream by its Content-Length (RFC 3261 §18.3). Errors mean
/// the framing is lost and the connection should be closed.
pub fn frame_stream(buf: &[u8]) -> Result<StreamFrame, ParseError> {
    let crlf = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    if crlf > 0 {
        return Ok(StreamFrame::Keepalive(crlf));
    }
    let mut pos = 0;
    let mut first = true;
    let mut declared: Option<u32> = None;
    // The value of a Content-Length line being read: it may go on in folded continuation
    // lines, so it is only parsed when the next header (or the body) starts.
    let mut cl_value: Option<(usize, usize)> = None;
    let finish_cl = |span: Option<(usize, usize)>, declared: &mut Option<u32>| {
        let Some((s, e)) = span else {
            return Ok(());
        };
        let n = content_length_value(trim_lws(buf.get(s..e).unwrap_or(&[])))?;
        if declared.is_some_and(|d| d != n) {
            return Err(ParseError::ConflictingContentLength);
        }
        *declared = Some(n);
        Ok(())
    };
    let body_start = loop {
        let Some((end, next)) = line_at(buf, pos) else {
            if buf.len() - pos > SIP_MAX_LINE {
                return Err(ParseError::LineTooLong);
            }
            return if buf.len() > SIP_MAX_MESSAGE {
                Err(ParseError::MessageTooLarge)
            } else {
                Ok(StreamFrame::Incomplete)
            };
        };
        if end - pos > SIP_MAX_LINE {
            return Err(ParseError::LineTooLong);
        }
        if end == pos {
            finish_cl(cl_value.take(), &mut declared)?;
            break next;
        }
        let line = buf.get(pos..end).unwrap_or(&[]);
        let continuation = matches!(line.first(), Some(b' ' | b'\t'));
        if continuation {
            if let Some((_, e)) = cl_value.as_mut() {
                *e = end;
            }
        } else if !first {
            finish_cl(cl_value.take(), &mut declared)?;
            if let Some(colon) = line.iter().position(|&b| b == b':') {
                let name = trim_lws(line.get(..colon).unwrap_or(&[]));
                if HeaderName::from_bytes(name) == HeaderName::ContentLength {
                    cl_value = Some((pos + colon + 1, end));
                }
            }
        }
        first = false;
        pos = next;
    };
    let n = declared.ok_or(ParseError::MissingContentLength)?;
    let total = usize::try_from(n)
        .ok()
        .and_then(|n| body_start.checked_add(n))
        .filter(|&t| t <= SIP_MAX_MESSAGE)
        .ok_or(ParseError::MessageTooLarge)?;
    Ok(if buf.len() < total {
        StreamFrame::Incomplete
    } else {
        StreamFrame::Message(total)
    })
}

/// End of the line content starting at `pos` and the start of the next line.
fn line_at(buf: &[u8], pos: usize) -> Option<(usize, usize)> {
    let rest = buf.get(pos..)?;
    let lf = rest.iter().position(|&b| b == b'\n')?;
    let mut end = pos + lf;
    if end > pos && buf.get(end - 1) == Some(&b'\r') {
        end -= 1;
    }
    Some((end, pos + lf + 1))
}

fn is_sip20(v: &[u8]) -> bool {
    eq_ic(v, b"SIP/2.0")
}

/// `SIP/` 1*DIGIT `.` 1*DIGIT, any version.
fn is_sip_version(v: &[u8]) -> bool {
    let Some(rest) = v.get(4..) else {
        return false;
    };
    if !v.get(..4).is_some_and(|p| eq_ic(p, b"SIP/")) {
        return false;
    }
    let mut parts = rest.split(|&b| b == b'.');
    let ok =
        |p: Option<&[u8]>| p.is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit));
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

fn parse_start_line(line: &[u8]) -> Result<StartLine<'_>, ParseError> {
    if line.get(..4).is_some_and(|p| eq_ic(p, b"SIP/")) {
        let sp = line
            .iter()
            .position(|&b| b == b' ')
            .ok_or(ParseError::BadStatusLine)?;
        let version = line.get(..sp).ok_or(ParseError::BadStatusLine)?;
        if !is_sip_version(version) {
            return Err(ParseError::BadStatusLine);
        }
        if !is_sip20(version) {
            return Err(ParseError::BadVersion);
        }
        let code_bytes = line.get(sp + 1..sp + 4).ok_or(ParseError::BadStatusLine)?;
        let code = parse_u32(code_bytes)
            .filter(|c| (100..=699).contains(c))
            .and_then(|c| u16::try_from(c).ok())
            .ok_or(ParseError::BadStatusLine)?;
        let reason = match line.get(sp + 4..) {
            None | Some([]) => &[][..],
            Some([b' ', r @ ..]) => r,
            Some(_) => return Err(ParseError::BadStatusLine),
        };
        return Ok(StartLine::Response {
            version,
            code,
            reason,
        });
    }
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (Some(method), Some(uri), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::BadRequestLine);
    };
    if !is_token(method) || uri.is_empty() || uri.contains(&b'\t') {
        return Err(ParseError::BadRequestLine);
    }
    if !is_sip20(version) {
        return Err(if is_sip_version(version) {
            ParseError::BadVersion
        } else {
            ParseError::BadRequestLine
        });
    }
    Ok(StartLine::Request {
        method,
        uri,
        version,
    })
}

/// `Method Request-URI Version` separated by any runs of SP/HT (RFC 4475 lwsstart, trws).
fn loose_request_line(line: &[u8]) -> Result<StartLine<'_>, ParseError> {
    let mut parts = line
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|p| !p.is_empty());
    match (parts.next(), parts.next(), parts.next()) {
        (Some(method), Some(uri), Some(version)) if is_token(method) => Ok(StartLine::Request {
            method,
            uri,
            version,
        }),
        _ => Err(ParseError::BadRequestLine),
    }
}

fn offs(r: Range<usize>) -> Result<(u32, u32), ParseError> {
    let s = u32::try_from(r.start).map_err(|_| ParseError::MessageTooLarge)?;
    let e = u32::try_from(r.end).map_err(|_| ParseError::MessageTooLarge)?;
    Ok((s, e))
}

fn content_length_value(v: &[u8]) -> Result<u32, ParseError> {
    if let [b'-', digits @ ..] = v {
        if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
            return Err(ParseError::NegativeContentLength);
        }
    }
    parse_u32(v).ok_or(ParseError::BadContentLength)
}

impl<'a> Message<'a> {
    /// Parses the start line, indexes the header lines and locates the body.
    pub fn parse(buf: &'a [u8], framing: Framing) -> Result<Message<'a>, ParseError> {
        Self::parse_mode(buf, framing, false)
    }

    /// Indexes the headers of a request that `parse` rejected, so that the proxy can still
    /// build the 400/505 answer (it needs Via, From, To, Call-ID and CSeq). Tolerated: SP
    /// runs and an unsupported version in the Request-Line, a missing end of headers, and
    /// any Content-Length problem (the body is then empty). Never forward the result.
    pub fn parse_for_reply(buf: &'a [u8]) -> Result<Message<'a>, ParseError> {
        Self::parse_mode(buf, Framing::Datagram, true)
    }

    fn parse_mode(
        buf: &'a [u8],
        framing: Framing,
        lenient: bool,
    ) -> Result<Message<'a>, ParseError> {
        if u32::try_from(buf.len()).is_err() {
            return Err(ParseError::MessageTooLarge);
        }
        let msg_start = buf
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .ok_or(ParseError::Empty)?;
        // Keepalives (CRLF, "jaK", 4 NULs) are below siproxd's SEC_MINLEN (behaviour §4.3).
        if buf.len() - msg_start < SIP_MIN_MESSAGE {
            return Err(ParseError::TooShort);
        }
        let (sl_end, mut pos) = line_at(buf, msg_start).ok_or(ParseError::MissingHeaderEnd)?;
        if sl_end - msg_start > SIP_MAX_LINE {
            return Err(ParseError::LineTooLong);
        }
        let line = buf.get(msg_start..sl_end).unwrap_or(&[]);
        let start_line = match parse_start_line(line) {
            Err(ParseError::BadRequestLine | ParseError::BadVersion) if lenient => {
                loose_request_line(line)?
            }
            other => other?,
        };
        let mut msg = Message {
            buf,
            start_line,
            msg_start,
            headers_start: pos,
            entries: [Entry::default(); SIP_MAX_HEADERS],
            count: 0,
            headers_end: 0,
            body: (0, 0),
            content_length: None,
        };
        // Header lines up to the empty line.
        loop {
            let Some((end, next)) = line_at(buf, pos) else {
                if lenient {
                    // Headers run to the end of the datagram (an unfinished line is dropped).
                    msg.headers_end = pos;
                    msg.body = (pos, pos);
                    return Ok(msg);
                }
                return Err(ParseError::MissingHeaderEnd);
            };
            if end - pos > SIP_MAX_LINE {
                return Err(ParseError::LineTooLong);
            }
            if end == pos {
                msg.headers_end = pos;
                pos = next;
                break;
            }
            let first = buf.get(pos).copied().unwrap_or(b' ');
            if first == b' ' || first == b'\t' {
                // A continuation line extends the previous header.
                let last = msg
                    .count
                    .checked_sub(1)
                    .and_then(|i| msg.entries.get_mut(i))
                    .ok_or(ParseError::BadHeaderLine)?;
                let mut trimmed_end = end;
                while trimmed_end > pos && matches!(buf.get(trimmed_end - 1), Some(b' ' | b'\t')) {
                    trimmed_end -= 1;
                }
                let (_, vend) = offs(0..trimmed_end)?;
                if trim_lws(buf.get(pos..end).unwrap_or(&[])).is_empty() {
                    last.line.1 = offs(0..next)?.1;
                    pos = next;
                    continue;
                }
                if last.value.0 == last.value.1 {
                    // Value started on this continuation line.
                    let off = pos
                        + buf
                            .get(pos..end)
                            .and_then(|l| l.iter().position(|&b| b != b' ' && b != b'\t'))
                            .unwrap_or(0);
                    last.value.0 = offs(off..off)?.0;
                }
                last.value.1 = vend;
                last.line.1 = offs(0..next)?.1;
                pos = next;
                continue;
            }
            let line = buf.get(pos..end).unwrap_or(&[]);
            let name_len = line
                .iter()
                .position(|&b| !is_token_char(b))
                .unwrap_or(line.len());
            let mut c = name_len;
            while matches!(line.get(c), Some(b' ' | b'\t')) {
                c += 1;
            }
            if name_len == 0 || line.get(c) != Some(&b':') {
                return Err(ParseError::BadHeaderLine);
            }
            let mut v = c + 1;
            while matches!(line.get(v), Some(b' ' | b'\t')) {
                v += 1;
            }
            let mut vend = line.len();
            while vend > v && matches!(line.get(vend - 1), Some(b' ' | b'\t')) {
                vend -= 1;
            }
            let name = line.get(..name_len).unwrap_or(&[]);
            let entry = msg
                .entries
                .get_mut(msg.count)
                .ok_or(ParseError::TooManyHeaders)?;
            *entry = Entry {
                kind: HeaderName::from_bytes(name),
                name: offs(pos..pos + name_len)?,
                value: offs(pos + v..pos + vend.max(v))?,
                line: offs(pos..next)?,
            };
            msg.count += 1;
            pos = next;
        }
        if lenient {
            msg.body = (pos, pos);
            return Ok(msg);
        }
        // Content-Length: all occurrences must agree.
        let mut declared = None;
        for h in msg.headers_of(HeaderName::ContentLength) {
            let n = content_length_value(trim_lws(h.value))?;
            match declared {
                Some(prev) if prev != n => return Err(ParseError::ConflictingContentLength),
                _ => declared = Some(n),
            }
        }
        msg.content_length = declared;
        let available = buf.len() - pos;
        let body_len = match (msg.content_length, framing) {
            (Some(n), _) => {
                let n_usize = usize::try_from(n).map_err(|_| ParseError::BadContentLength)?;
                if n_usize > available {
                    return Err(ParseError::ContentLengthMismatch {
                        declared: n,
                        available,
                    });
                }
                n_usize
            }
            (None, Framing::Datagram) => available,
            (None, Framing::Stream) => return Err(ParseError::MissingContentLength),
        };
        msg.body = (pos, pos + body_len);
        Ok(msg)
    }

    fn header_at(&self, i: usize) -> Option<Header<'a>> {
        let e = self.entries.get(..self.count)?.get(i)?;
        let get = |(s, e): (u32, u32)| self.buf.get(s as usize..e as usize).unwrap_or(&[]);
        Some(Header {
            kind: e.kind,
            index: i,
            name: get(e.name),
            value: get(e.value),
            line: get(e.line),
        })
    }

    pub fn start_line(&self) -> StartLine<'a> {
        self.start_line
    }

    pub fn is_request(&self) -> bool {
        matches!(self.start_line, StartLine::Request { .. })
    }

    /// The request method, byte-exact (methods are case-sensitive).
    pub fn method(&self) -> Option<&'a [u8]> {
        match self.start_line {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI bytes as written.
    pub fn request_uri_raw(&self) -> Option<&'a [u8]> {
        match self.start_line {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    pub fn status_code(&self) -> Option<u16> {
        match self.start_line {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    pub fn reason_phrase(&self) -> Option<&'a [u8]> {
        match self.start_line {
            StartLine::Response { reason, .. } => Some(reason),
            StartLine::Request { .. } => None,
        }
    }

    /// Number of indexed header lines.
    pub fn header_count(&self) -> usize {
        self.count
    }

    /// The header line at `index` (in message order).
    pub fn header(&self, index: usize) -> Option<Header<'a>> {
        self.header_at(index)
    }

    /// All header lines in message order.
    pub fn headers(&self) -> impl Iterator<Item = Header<'a>> + '_ {
        (0..self.count).filter_map(move |i| self.header_at(i))
    }

    /// Header lines of one kind, in order.
    pub fn headers_of(&self, kind: HeaderName) -> impl Iterator<Item = Header<'a>> + '_ {
        // The kind is matched on the index entry, so only matching lines are sliced.
        self.entries
            .iter()
            .take(self.count)
            .enumerate()
            .filter(move |(_, e)| e.kind == kind)
            .filter_map(|(i, _)| self.header_at(i))
    }

    /// The first header line of a kind.
    pub fn first(&self, kind: HeaderName) -> Option<Header<'a>> {
        self.headers_of(kind).next()
    }

    /// Header lines whose name matches `name` case-insensitively (for unknown headers).
    pub fn headers_named<'n>(&'n self, name: &'n [u8]) -> impl Iterator<Item = Header<'a>> + 'n {
        let kind = HeaderName::from_bytes(name);
        self.headers().filter(move |h| {
            if kind == HeaderName::Other {
                eq_ic(h.name, name)
            } else {
                h.kind == kind
            }
        })
    }

    /// Every comma-separated element of every line of a kind, in order.
    pub fn values(&self, kind: HeaderName) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.headers_of(kind).flat_map(|h| h.values())
    }

    /// The declared Content-Length, if the message has one.
    pub fn content_length(&self) -> Option<u32> {
        self.content_length
    }

    pub fn body(&self) -> &'a [u8] {
        self.buf.get(self.body.0..self.body.1).unwrap_or(&[])
    }

    pub fn body_range(&self) -> Range<usize> {
        self.body.0..self.body.1
    }

    /// The bytes of this message: from the start line to the end of the body. Bytes after
    /// the body (RFC 4475 dblreq) are not part of it.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf.get(self.msg_start..self.body.1).unwrap_or(&[])
    }

    /// The buffer the message was parsed from (offsets refer to it).
    pub fn buffer(&self) -> &'a [u8] {
        self.buf
    }

    /// Offset of the first byte of the start line.
    pub fn start_offset(&self) -> usize {
        self.msg_start
    }

    /// Offset of the first header line (just after the start line).
    pub fn headers_start(&self) -> usize {
        self.headers_start
    }

    /// Offset of the empty line ending the header block.
    pub fn headers_end(&self) -> usize {
        self.headers_end
    }

    /// Where `part` (a slice returned by any accessor of this message) lies in the buffer.
    pub fn range_of(&self, part: &[u8]) -> Option<Range<usize>> {
        let base = self.buf.as_ptr() as usize;
        let p = part.as_ptr() as usize;
        let start = p.checked_sub(base)?;
        let end = start.checked_add(part.len())?;
        (end <= self.buf.len()).then_some(start..end)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;

    const REQ: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n\
v: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK2,\r\n SIP/2.0/UDP 10.0.0.3 \t\r\n\
Content-Length: 4\r\n\
\r\n\
bodyTRAILING";

    #[test]
    fn request_and_headers() {
        let m = Message::parse(REQ, Framing::Datagram).unwrap();
        assert_eq!(m.method(), Some(&b"INVITE"[..]));
        assert_eq!(m.request_uri_raw(), Some(&b"sip:bob@example.com"[..]));
        assert_eq!(m.header_count(), 3);
        let vias: Vec<_> = m.values(HeaderName::Via).collect();
        assert_eq!(vias.len(), 3);
        assert_eq!(
            m.header(1).unwrap().value,
            b"SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK2,\r\n SIP/2.0/UDP 10.0.0.3"
        );
        assert_eq!(vias[2], b"SIP/2.0/UDP 10.0.0.3");
        assert_eq!(m.header(1).unwrap().name, b"v");
        assert!(m.header(1).unwrap().line.ends_with(b"10.0.0.3 \t\r\n"));
        assert_eq!(m.body(), b"body");
        assert_eq!(m.as_bytes(), &REQ[..REQ.len() - 8]);
        let r = m.range_of(m.body()).unwrap();
        assert_eq!(&REQ[r], b"body");
    }

    #[test]
    fn status_lines() {
        let m = Message::parse(b"SIP/2.0 100 \r\nl: 0\r\n\r\n", Framing::Datagram).unwrap();
        assert_eq!(m.status_code(), Some(100));
        assert_eq!(m.reason_phrase(), Some(&b""[..]));
        let m =
            Message::parse(b"SIP/2.0 200 \xc3\xa9t\xc3\xa9\r\n\r\n", Framing::Datagram).unwrap();
        assert_eq!(m.reason_phrase(), Some(&b"\xc3\xa9t\xc3\xa9"[..]));
        for bad in [
            &b"SIP/2.0 4294967301 Huge\r\n\r\n"[..],
            b"SIP/2.0 99 x\r\n\r\n",
        ] {
            assert_eq!(
                Message::parse(bad, Framing::Datagram).unwrap_err(),
                ParseError::BadStatusLine
            );
        }
    }

    #[test]
    fn request_line_errors() {
        let p = |b: &[u8]| Message::parse(b, Framing::Datagram).unwrap_err();
        assert_eq!(p(b"INVITE sip:a@b SIP/7.0\r\n\r\n"), ParseError::BadVersion);
        assert_eq!(
            p(b"INVITE  sip:a@b SIP/2.0\r\n\r\n"),
            ParseError::BadRequestLine
        );
        assert_eq!(
            p(b"INVITE sip:a@b SIP/2.0 \r\n\r\n"),
            ParseError::BadRequestLine
        );
        assert_eq!(
            p(b"INVITE sip:a@b SIP/2.0\r\nVia x\r\n\r\n"),
            ParseError::BadHeaderLine
        );
        assert_eq!(
            p(b"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n"),
            ParseError::MissingHeaderEnd
        );
        assert_eq!(p(b"\r\n\r\n"), ParseError::Empty);
        assert_eq!(p(b"jaK\n"), ParseError::TooShort);
        assert_eq!(p(b"\0\0\0\0"), ParseError::TooShort);
    }

    #[test]
    fn content_length_rules() {
        fn p(b: &[u8], t: Framing) -> Result<Message<'_>, ParseError> {
            Message::parse(b, t)
        }
        let head = "OPTIONS sip:a@b SIP/2.0\r\n";
        let m = |cl: &str, body: &str| format!("{head}{cl}\r\n{body}").into_bytes();
        assert_eq!(
            p(&m("Content-Length: 10\r\n", "abc"), Framing::Datagram).unwrap_err(),
            ParseError::ContentLengthMismatch {
                declared: 10,
                available: 3
            }
        );
        assert_eq!(
            p(&m("l: -5\r\n", "abc"), Framing::Datagram).unwrap_err(),
            ParseError::NegativeContentLength
        );
        assert_eq!(
            p(&m("l: 5x\r\n", "abc"), Framing::Datagram).unwrap_err(),
            ParseError::BadContentLength
        );
        assert_eq!(
            p(&m("l: 1\r\nl: 2\r\n", "abc"), Framing::Datagram).unwrap_err(),
            ParseError::ConflictingContentLength
        );
        let b = m("", "abc");
        assert_eq!(p(&b, Framing::Datagram).unwrap().body(), b"abc");
        assert_eq!(
            p(&b, Framing::Stream).unwrap_err(),
            ParseError::MissingContentLength
        );
    }

    #[test]
    fn limits_enforced() {
        let mut many = b"OPTIONS sip:a@b SIP/2.0\r\n".to_vec();
        for _ in 0..=SIP_MAX_HEADERS {
            many.extend_from_slice(b"X: y\r\n");
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(
            Message::parse(&many, Framing::Datagram).unwrap_err(),
            ParseError::TooManyHeaders
        );
        let mut long = b"OPTIONS sip:a@b SIP/2.0\r\nX: ".to_vec();
        long.resize(long.len() + SIP_MAX_LINE, b'a');
        long.extend_from_slice(b"\r\n\r\n");
        assert_eq!(
            Message::parse(&long, Framing::Datagram).unwrap_err(),
            ParseError::LineTooLong
        );
    }

    #[test]
    fn stream_framing() {
        let one = b"OPTIONS sip:a@b SIP/2.0\r\nl: 3\r\n\r\nabc";
        let mut two = one.to_vec();
        two.extend_from_slice(one);
        assert_eq!(frame_stream(&two), Ok(StreamFrame::Message(one.len())));
        for cut in 0..one.len() {
            assert_eq!(
                frame_stream(&one[..cut]),
                Ok(StreamFrame::Incomplete),
                "{cut}"
            );
        }
        assert_eq!(frame_stream(b"\r\n\r\nOPT"), Ok(StreamFrame::Keepalive(4)));
        let f = |s: &str| frame_stream(s.as_bytes());
        assert_eq!(
            f("OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n"),
            Err(ParseError::NegativeContentLength)
        );
        assert_eq!(
            f("OPTIONS sip:a@b SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\n"),
            Err(ParseError::ConflictingContentLength)
        );
        assert_eq!(
            f("OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n"),
            Err(ParseError::MissingContentLength)
        );
        assert_eq!(
            f("OPTIONS sip:a@b SIP/2.0\r\nl: 99999\r\n\r\n"),
            Err(ParseError::MessageTooLarge)
        );
        let mut long = b"OPTIONS sip:a@b SIP/2.0\r\nX: ".to_vec();
        long.resize(long.len() + SIP_MAX_LINE + 1, b'a');
        assert_eq!(frame_stream(&long), Err(ParseError::LineTooLong));
    }

    #[test]
    fn request_hint() {
        assert!(looks_like_request(b"INVITE x"));
        assert!(!looks_like_request(b"\r\nsip/2.0 200 OK"));
    }
}
