//! Emits a rewritten message: the original bytes plus edits given as byte ranges of the
//! original. Everything outside the edited ranges is copied unchanged, so no edits means a
//! byte-identical copy; a new body always gets a correct Content-Length.

use core::ops::Range;

use super::addr::NameAddr;
use super::header::{HeaderName, Params, ValueIter};
use super::message::Message;
use super::scan::write_u32;
use crate::limits::SIP_MAX_EDITS;

/// Replace `range` of the original with the concatenation of `parts` (an insert is an
/// empty range, a deletion has no parts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edit<'e> {
    pub range: (usize, usize),
    pub parts: [&'e [u8]; 8],
}

const NONE: &[u8] = b"";

impl<'e> Edit<'e> {
    pub fn replace(range: Range<usize>, with: &'e [u8]) -> Self {
        Edit {
            range: (range.start, range.end),
            parts: [with, NONE, NONE, NONE, NONE, NONE, NONE, NONE],
        }
    }

    pub fn insert(at: usize, bytes: &'e [u8]) -> Self {
        Self::replace(at..at, bytes)
    }

    pub fn delete(range: Range<usize>) -> Self {
        Self::replace(range, b"")
    }

    /// Inserts the line `name: value CRLF` at `at` (the start of a line).
    pub fn insert_header(at: usize, name: &'e [u8], value: &'e [u8]) -> Self {
        Edit {
            range: (at, at),
            parts: [name, b": ", value, b"\r\n", NONE, NONE, NONE, NONE],
        }
    }

    fn len(&self) -> usize {
        self.parts.iter().map(|p| p.len()).sum()
    }

    /// A deletion covering the edit of `s..e` (an insert at its very edge stays).
    fn swallows(&self, s: usize, e: usize) -> bool {
        let (ds, de) = self.range;
        let at_edge = s == e && (s == ds || s == de);
        ds < de && self.len() == 0 && ds <= s && e <= de && !at_edge
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditError {
    /// The output buffer cannot hold the message; `needed` bytes are required.
    BufferTooSmall { needed: usize },
    /// Two edits touch the same bytes.
    Overlap,
    /// An edit range, or a slice given to locate one, is not inside the message.
    OutOfRange,
    /// More than `limits::SIP_MAX_EDITS` edits.
    TooManyEdits,
    /// The parameter or value to edit was not found.
    NotFound,
}

impl core::fmt::Display for EditError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EditError::BufferTooSmall { needed } => {
                write!(
                    f,
                    "the message would need {needed} bytes, more than the buffer"
                )
            }
            EditError::Overlap => f.write_str("two edits overlap"),
            EditError::OutOfRange => f.write_str("an edit is outside the message"),
            EditError::TooManyEdits => f.write_str("too many edits"),
            EditError::NotFound => f.write_str("the parameter or value to edit was not found"),
        }
    }
}

/// Collects edits for one message and writes the result. Edits may be pushed in any order;
/// they must not overlap (inserts at one position keep their order). With `set_body`, the
/// editor owns Content-Length: do not edit or remove that header yourself.
#[derive(Debug)]
pub struct Editor<'m, 'a, 'e> {
    msg: &'m Message<'a>,
    edits: heapless::Vec<Edit<'e>, SIP_MAX_EDITS>,
    body: Option<&'e [u8]>,
    /// See [`Editor::absorb_in_deletions`].
    absorb: bool,
}

impl<'m, 'a, 'e> Editor<'m, 'a, 'e> {
    pub fn new(msg: &'m Message<'a>) -> Self {
        Editor {
            msg,
            edits: heapless::Vec::new(),
            body: None,
            absorb: false,
        }
    }

    /// From now on an edit lying inside a deleted range (e.g. a header line a plugin strips)
    /// is dropped instead of being an overlap, whichever comes first: the bytes go either way.
    pub fn absorb_in_deletions(&mut self) -> &mut Self {
        self.absorb = true;
        self
    }

    /// Adds a raw edit; its range must lie within the message.
    pub fn push(&mut self, edit: Edit<'e>) -> Result<&mut Self, EditError> {
        let (s, e) = edit.range;
        if s > e || s < self.msg.start_offset() || e > self.msg.body_range().end {
            return Err(EditError::OutOfRange);
        }
        if self.absorb {
            if self.edits.iter().any(|d| d.swallows(s, e)) {
                return Ok(self);
            }
            self.edits.retain(|o| !edit.swallows(o.range.0, o.range.1));
        }
        self.edits.push(edit).map_err(|_| EditError::TooManyEdits)?;
        Ok(self)
    }

    fn range(&self, part: &[u8]) -> Result<Range<usize>, EditError> {
        self.msg.range_of(part).ok_or(EditError::OutOfRange)
    }

    /// Replaces `part` (a slice of this message, e.g. a URI's `raw` or the Request-URI).
    pub fn replace(&mut self, part: &[u8], with: &'e [u8]) -> Result<&mut Self, EditError> {
        let r = self.range(part)?;
        self.push(Edit::replace(r, with))
    }

    /// Inserts a header line as the first line of the header block.
    pub fn insert_header_top(
        &mut self,
        name: &'e [u8],
        value: &'e [u8],
    ) -> Result<&mut Self, EditError> {
        let at = self.msg.headers_start();
        self.push(Edit::insert_header(at, name, value))
    }

    /// Inserts a header line above the first line of `kind` (or at the top if there is none).
    pub fn insert_header_before(
        &mut self,
        kind: HeaderName,
        name: &'e [u8],
        value: &'e [u8],
    ) -> Result<&mut Self, EditError> {
        let at = match self.msg.first(kind) {
            Some(h) => self.range(h.line)?.start,
            None => self.msg.headers_start(),
        };
        self.push(Edit::insert_header(at, name, value))
    }

    /// Appends a header line at the end of the header block.
    pub fn append_header(
        &mut self,
        name: &'e [u8],
        value: &'e [u8],
    ) -> Result<&mut Self, EditError> {
        let at = self.msg.headers_end();
        self.push(Edit::insert_header(at, name, value))
    }

    /// Removes the whole header line at `index` (with its continuation lines).
    pub fn remove_header(&mut self, index: usize) -> Result<&mut Self, EditError> {
        let h = self.msg.header(index).ok_or(EditError::NotFound)?;
        let r = self.range(h.line)?;
        self.push(Edit::delete(r))
    }

    /// Removes one element of a comma list (as yielded by `values()` or `Header::values()`);
    /// the line goes if it was the only element.
    pub fn remove_value(&mut self, value: &[u8]) -> Result<&mut Self, EditError> {
        let target = self.range(value)?;
        let h = self
            .msg
            .headers()
            .find(|h| {
                self.msg
                    .range_of(h.value)
                    .is_some_and(|r| r.start <= target.start && target.end <= r.end)
            })
            .ok_or(EditError::NotFound)?;
        let mut prev_end = None;
        let mut iter = ValueIter::new(h.value);
        let mut found = None;
        for v in iter.by_ref() {
            let r = self.range(v)?;
            if r == target {
                found = Some(r);
                break;
            }
            prev_end = Some(r.end);
        }
        let this = found.ok_or(EditError::NotFound)?;
        let next_start = match iter.next() {
            Some(n) => Some(self.range(n)?.start),
            None => None,
        };
        let del = match (prev_end, next_start) {
            (None, None) => return self.remove_header(h.index),
            (Some(p), _) => p..this.end,
            (None, Some(n)) => this.start..n,
        };
        self.push(Edit::delete(del))
    }

    /// Sets parameter `name` of a parameter list (Via, name-addr or URI params) to `value`
    /// (`None` = a flag like `;rport`), replacing it if present, else appending it.
    pub fn set_param(
        &mut self,
        params: &Params<'_>,
        name: &'e [u8],
        value: Option<&'e [u8]>,
    ) -> Result<&mut Self, EditError> {
        let (eq, v) = match value {
            Some(v) => (&b"="[..], v),
            None => (NONE, NONE),
        };
        let parts = [b";", name, eq, v, NONE, NONE, NONE, NONE];
        let existing = core::str::from_utf8(name).ok().and_then(|n| params.get(n));
        let range = match existing {
            Some(p) => self.range(p.item)?,
            None => {
                let end = self.range(params.raw())?.end;
                end..end
            }
        };
        self.push(Edit {
            range: (range.start, range.end),
            parts,
        })
    }

    /// Replaces the URI of a name-addr / addr-spec, adding `< >` when the original had none,
    /// so parameters of the new URI cannot be read as header parameters.
    pub fn replace_addr_uri(
        &mut self,
        addr: &NameAddr<'_>,
        uri: &'e [u8],
    ) -> Result<&mut Self, EditError> {
        let r = self.range(addr.uri.raw)?;
        let parts = if addr.bracketed {
            [uri, NONE, NONE, NONE, NONE, NONE, NONE, NONE]
        } else {
            [b"<", uri, b">", NONE, NONE, NONE, NONE, NONE]
        };
        self.push(Edit {
            range: (r.start, r.end),
            parts,
        })
    }

    /// Sets a URI parameter of a name-addr's URI; an addr-spec without `< >` gets them.
    pub fn set_addr_uri_param(
        &mut self,
        addr: &NameAddr<'_>,
        name: &'e [u8],
        value: Option<&'e [u8]>,
    ) -> Result<&mut Self, EditError> {
        if addr.bracketed {
            return self.set_param(&addr.uri.params, name, value);
        }
        // Unbracketed: the URI has no parameters (they belong to the header), so append.
        let r = self.range(addr.uri.raw)?;
        let (eq, v) = match value {
            Some(v) => (&b"="[..], v),
            None => (NONE, NONE),
        };
        self.push(Edit {
            range: (r.start, r.start),
            parts: [b"<", NONE, NONE, NONE, NONE, NONE, NONE, NONE],
        })?;
        self.push(Edit {
            range: (r.end, r.end),
            parts: [b";", name, eq, v, b">", NONE, NONE, NONE],
        })
    }

    /// Removes parameter `name` from a parameter list.
    pub fn remove_param(
        &mut self,
        params: &Params<'_>,
        name: &str,
    ) -> Result<&mut Self, EditError> {
        let p = params.get(name).ok_or(EditError::NotFound)?;
        let r = self.range(p.item)?;
        self.push(Edit::delete(r))
    }

    /// Replaces the body; Content-Length is rewritten (or added) to match.
    pub fn set_body(&mut self, body: &'e [u8]) -> &mut Self {
        self.body = Some(body);
        self
    }

    /// Size of the message `emit` would write.
    pub fn output_len(&mut self) -> Result<usize, EditError> {
        let mut digits = [0u8; 10];
        let mut extra = Extra::new();
        let plan = self.plan(&mut digits, &mut extra)?;
        Ok(self.planned_len(&plan))
    }

    fn planned_len(&self, plan: &[&Edit<'_>]) -> usize {
        // Edits are disjoint and inside the message, so the removed bytes never exceed it.
        plan.iter().fold(self.msg.as_bytes().len(), |n, e| {
            n.saturating_sub(e.range.1 - e.range.0)
                .saturating_add(e.len())
        })
    }

    /// The edits in output order, checked, including the Content-Length and body edits
    /// (written into `extra`). References are sorted, not the edits: an `Edit` is 144 bytes.
    fn plan<'p, 'd>(
        &'p self,
        digits: &'d mut [u8; 10],
        extra: &'p mut Extra<'d>,
    ) -> Result<heapless::Vec<&'p Edit<'d>, { SIP_MAX_EDITS + 4 }>, EditError>
    where
        'e: 'd,
    {
        if let Some(body) = self.body {
            let len = u32::try_from(body.len()).map_err(|_| EditError::OutOfRange)?;
            let d: &'d [u8] = write_u32(len, digits);
            let mut any = false;
            for h in self.msg.headers_of(HeaderName::ContentLength) {
                let r = self.range(h.value)?;
                extra
                    .push(Edit::replace(r, d))
                    .map_err(|_| EditError::TooManyEdits)?;
                any = true;
            }
            if !any {
                extra
                    .push(Edit::insert_header(
                        self.msg.headers_end(),
                        b"Content-Length",
                        d,
                    ))
                    .map_err(|_| EditError::TooManyEdits)?;
            }
            extra
                .push(Edit::replace(self.msg.body_range(), body))
                .map_err(|_| EditError::TooManyEdits)?;
        }
        let mut plan: heapless::Vec<&'p Edit<'d>, { SIP_MAX_EDITS + 4 }> = heapless::Vec::new();
        for e in self.edits.iter().chain(extra.iter()) {
            plan.push(e).map_err(|_| EditError::TooManyEdits)?;
        }
        // Stable insertion sort (no allocation); inserts go before a replace at the same start.
        let key = |e: &Edit<'_>| (e.range.0, e.range.1 != e.range.0);
        for i in 1..plan.len() {
            let mut j = i;
            while j > 0 {
                let (Some(a), Some(b)) = (plan.get(j - 1), plan.get(j)) else {
                    break;
                };
                if key(a) <= key(b) {
                    break;
                }
                plan.swap(j - 1, j);
                j -= 1;
            }
        }
        let mut prev_end = self.msg.start_offset();
        for e in plan.iter() {
            if e.range.0 < prev_end {
                return Err(EditError::Overlap);
            }
            prev_end = e.range.1;
        }
        Ok(plan)
    }

    /// Hands the pieces of the edited message, in order, to `put`.
    fn write_plan(
        &self,
        plan: &[&Edit<'_>],
        mut put: impl FnMut(&[u8]) -> Result<(), EditError>,
    ) -> Result<(), EditError> {
        let buf = self.msg.buffer();
        let mut pos = self.msg.start_offset();
        for e in plan.iter() {
            put(buf.get(pos..e.range.0).ok_or(EditError::OutOfRange)?)?;
            for p in e.parts.iter() {
                put(p)?;
            }
            pos = e.range.1;
        }
        let end = self.msg.body_range().end;
        put(buf.get(pos..end).ok_or(EditError::OutOfRange)?)
    }

    /// Writes the edited message into `out`, returning its length.
    pub fn emit(&mut self, out: &mut [u8]) -> Result<usize, EditError> {
        let mut digits = [0u8; 10];
        let mut extra = Extra::new();
        let plan = self.plan(&mut digits, &mut extra)?;
        let needed = self.planned_len(&plan);
        if needed > out.len() {
            return Err(EditError::BufferTooSmall { needed });
        }
        let mut w = 0usize;
        self.write_plan(&plan, |bytes| {
            let end = w + bytes.len();
            let dst = out
                .get_mut(w..end)
                .ok_or(EditError::BufferTooSmall { needed })?;
            dst.copy_from_slice(bytes);
            w = end;
            Ok(())
        })?;
        Ok(w)
    }

    /// Writes the edited message into `out`, reusing its capacity (no allocation when the
    /// capacity suffices).
    pub fn emit_vec(&mut self, out: &mut Vec<u8>) -> Result<usize, EditError> {
        let mut digits = [0u8; 10];
        let mut extra = Extra::new();
        let plan = self.plan(&mut digits, &mut extra)?;
        out.clear();
        out.reserve(self.planned_len(&plan));
        self.write_plan(&plan, |bytes| {
            out.extend_from_slice(bytes);
            Ok(())
        })?;
        Ok(out.len())
    }
}

/// The edits `Editor::plan` adds for a new body: every Content-Length value (a message may
/// repeat the header with the same value) or one new header, and the body itself. The plan
/// as a whole holds `SIP_MAX_EDITS + 4`, as before.
type Extra<'d> = heapless::Vec<Edit<'d>, { SIP_MAX_EDITS + 4 }>;

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;
    use crate::sip::{Framing, Message};

    const MSG: &[u8] = b"INVITE sip:bob@10.0.0.9 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport\r\n\
Contact: <sip:a@10.0.0.1>;q=1, <sip:b@10.0.0.2>, <sip:c@10.0.0.3>\r\n\
CSeq: 1 INVITE\r\n\
Content-Length: 4\r\n\
\r\n\
body";

    fn run(f: impl FnOnce(&mut Editor) -> Result<(), EditError>) -> Vec<u8> {
        let m = Message::parse(MSG, Framing::Datagram).unwrap();
        let mut e = Editor::new(&m);
        f(&mut e).unwrap();
        let mut out = vec![0u8; 1024];
        let n = e.emit(&mut out).unwrap();
        assert_eq!(e.output_len().unwrap(), n);
        out.truncate(n);
        out
    }

    fn text(b: &[u8]) -> String {
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[test]
    fn absorbing_deletions_drop_edits_inside_them_whichever_comes_first() {
        let m = Message::parse(MSG, Framing::Datagram).unwrap();
        let via = m.top_via().unwrap();
        let contact = m.first(HeaderName::Contact).unwrap();
        // Without the mode, an edit inside a removed line is an overlap.
        let mut e = Editor::new(&m);
        e.set_param(&via.params, b"rport", Some(b"5")).unwrap();
        e.remove_header(0).unwrap();
        assert_eq!(e.emit(&mut [0u8; 512]), Err(EditError::Overlap));
        let mut e = Editor::new(&m);
        e.absorb_in_deletions();
        e.set_param(&via.params, b"rport", Some(b"5")).unwrap();
        e.remove_header(0).unwrap();
        e.remove_header(1).unwrap();
        // Inside an already removed line: dropped, not an error.
        let first = contact.values().next().unwrap();
        e.replace(first, b"<sip:x@y>").unwrap();
        // At the edge of a removed line: kept.
        e.insert_header_before(HeaderName::Via, b"Via", b"SIP/2.0/UDP p")
            .unwrap();
        let mut out = Vec::new();
        e.emit_vec(&mut out).unwrap();
        assert_eq!(
            text(&out),
            "INVITE sip:bob@10.0.0.9 SIP/2.0\r\nVia: SIP/2.0/UDP p\r\nCSeq: 1 INVITE\r\nContent-Length: 4\r\n\r\nbody"
        );
    }

    #[test]
    fn no_edits_is_identity() {
        assert_eq!(run(|_| Ok(())), MSG);
    }

    #[test]
    fn via_params_and_header_insert() {
        let m = Message::parse(MSG, Framing::Datagram).unwrap();
        let via = m.top_via().unwrap();
        let mut e = Editor::new(&m);
        e.set_param(&via.params, b"rport", Some(b"40000")).unwrap();
        e.set_param(&via.params, b"received", Some(b"1.2.3.4"))
            .unwrap();
        e.insert_header_before(
            HeaderName::Via,
            b"Via",
            b"SIP/2.0/UDP 5.6.7.8;branch=z9hG4bKp",
        )
        .unwrap();
        let mut out = Vec::with_capacity(1024);
        e.emit_vec(&mut out).unwrap();
        let t = text(&out);
        assert!(t.contains(
            "\r\nVia: SIP/2.0/UDP 5.6.7.8;branch=z9hG4bKp\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport=40000;received=1.2.3.4\r\n"
        ), "{t}");
        let again = Message::parse(&out, Framing::Datagram).unwrap();
        assert_eq!(again.vias().count(), 2);
    }

    #[test]
    fn remove_values() {
        let first = run(|e| {
            let m = e.msg;
            let v: Vec<_> = m.values(HeaderName::Contact).collect();
            e.remove_value(v[0]).map(|_| ())
        });
        assert!(text(&first).contains("Contact: <sip:b@10.0.0.2>, <sip:c@10.0.0.3>\r\n"));
        let middle = run(|e| {
            let v: Vec<_> = e.msg.values(HeaderName::Contact).collect();
            e.remove_value(v[1]).map(|_| ())
        });
        assert!(text(&middle).contains("Contact: <sip:a@10.0.0.1>;q=1, <sip:c@10.0.0.3>\r\n"));
        let line = run(|e| e.remove_header(1).map(|_| ()));
        assert!(!text(&line).contains("Contact"));
        assert!(text(&line).contains("rport\r\nCSeq"));
    }

    #[test]
    fn response_top_via_removal() {
        let src = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP proxy;branch=z9hG4bKp, SIP/2.0/UDP ua;branch=z9hG4bKu\r\nv: SIP/2.0/UDP far\r\nMax-Forwards: 70\r\n\r\n";
        let m = Message::parse(src, Framing::Datagram).unwrap();
        let mut e = Editor::new(&m);
        e.remove_value(m.top_via().unwrap().raw).unwrap();
        let mut out = Vec::new();
        e.emit_vec(&mut out).unwrap();
        assert_eq!(
            text(&out),
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP ua;branch=z9hG4bKu\r\nv: SIP/2.0/UDP far\r\nMax-Forwards: 70\r\n\r\n"
        );
        // A Via alone on its line takes the line with it.
        let m2 = Message::parse(&out, Framing::Datagram).unwrap();
        let mut e = Editor::new(&m2);
        e.remove_value(m2.top_via().unwrap().raw).unwrap();
        let mf = m2.first(HeaderName::MaxForwards).unwrap();
        e.replace(mf.value, b"69").unwrap();
        let mut out2 = Vec::new();
        e.emit_vec(&mut out2).unwrap();
        assert_eq!(
            text(&out2),
            "SIP/2.0 200 OK\r\nv: SIP/2.0/UDP far\r\nMax-Forwards: 69\r\n\r\n"
        );
    }

    #[test]
    fn uri_and_param_edits() {
        let out = run(|e| {
            let m = e.msg;
            let ruri = m.request_uri_raw().unwrap();
            e.replace(ruri, b"sip:bob@192.0.2.1:5070")?;
            let c = match m.contacts().nth(1).unwrap().unwrap() {
                crate::sip::Contact::Addr(a) => a,
                crate::sip::Contact::Star => unreachable!(),
            };
            e.set_param(&c.uri.params, b"transport", Some(b"udp"))?;
            let via = m.top_via().unwrap();
            e.remove_param(&via.params, "rport")?;
            Ok(())
        });
        let t = text(&out);
        assert!(t.starts_with("INVITE sip:bob@192.0.2.1:5070 SIP/2.0\r\n"));
        assert!(t.contains("<sip:b@10.0.0.2;transport=udp>"));
        assert!(t.contains("branch=z9hG4bK1\r\n"));
    }

    #[test]
    fn addr_spec_uri_edits_add_brackets() {
        let src = b"REGISTER sip:r SIP/2.0\r\nContact: sip:u@10.0.0.1;expires=60\r\nTo: <sip:u@r>\r\n\r\n";
        let m = Message::parse(src, Framing::Datagram).unwrap();
        let Ok(crate::sip::Contact::Addr(c)) = m.contacts().next().unwrap() else {
            panic!()
        };
        let mut e = Editor::new(&m);
        e.set_addr_uri_param(&c, b"transport", Some(b"udp"))
            .unwrap();
        let to = m.to().unwrap();
        e.replace_addr_uri(&to, b"sip:u@203.0.113.1").unwrap();
        let mut out = Vec::new();
        e.emit_vec(&mut out).unwrap();
        assert_eq!(
            text(&out),
            "REGISTER sip:r SIP/2.0\r\nContact: <sip:u@10.0.0.1;transport=udp>;expires=60\r\nTo: <sip:u@203.0.113.1>\r\n\r\n"
        );
        let m2 = Message::parse(&out, Framing::Datagram).unwrap();
        let Ok(crate::sip::Contact::Addr(c2)) = m2.contacts().next().unwrap() else {
            panic!()
        };
        assert_eq!(c2.uri.param("transport"), Some(Some(&b"udp"[..])));
        assert_eq!(c2.params.get("expires").unwrap().value, Some(&b"60"[..]));
        let mut e = Editor::new(&m);
        e.replace_addr_uri(&c, b"sip:u@1.2.3.4;lr").unwrap();
        let mut out = Vec::new();
        e.emit_vec(&mut out).unwrap();
        assert!(text(&out).contains("Contact: <sip:u@1.2.3.4;lr>;expires=60\r\n"));
    }

    #[test]
    fn masquerade_hostport() {
        let m = Message::parse(MSG, Framing::Datagram).unwrap();
        let via = m.top_via().unwrap();
        let mut e = Editor::new(&m);
        e.replace(via.sent_by_raw, b"203.0.113.1:5062").unwrap();
        let Ok(crate::sip::Contact::Addr(c)) = m.contacts().next().unwrap() else {
            panic!()
        };
        e.replace(c.uri.hostport_raw, b"203.0.113.1:5062").unwrap();
        let out = {
            let mut o = Vec::new();
            e.emit_vec(&mut o).unwrap();
            o
        };
        let t = text(&out);
        assert!(t.contains("Via: SIP/2.0/UDP 203.0.113.1:5062;branch"));
        assert!(t.contains("Contact: <sip:a@203.0.113.1:5062>;q=1, <sip:b@"));
    }

    #[test]
    fn body_replacement_fixes_content_length() {
        let out = run(|e| {
            e.set_body(b"a much longer body");
            Ok(())
        });
        let m = Message::parse(&out, Framing::Datagram).unwrap();
        assert_eq!(m.content_length(), Some(18));
        assert_eq!(m.body(), b"a much longer body");
        // Absent Content-Length is added.
        let src = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\nxyz";
        let m = Message::parse(src, Framing::Datagram).unwrap();
        let mut e = Editor::new(&m);
        e.set_body(b"");
        let mut out = [0u8; 128];
        let n = e.emit(&mut out).unwrap();
        assert_eq!(
            &out[..n],
            b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nContent-Length: 0\r\n\r\n"
        );
    }

    /// A repeated (equal) Content-Length is rewritten in every line, with edits before and
    /// after it, the same by `emit` and `emit_vec`; with the edit table full, the added
    /// body edits overflow the plan instead of being lost.
    #[test]
    fn new_body_with_repeated_content_length() {
        let src = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 3\r\nVia: SIP/2.0/UDP h\r\nContent-Length: 3\r\n\r\nxyz";
        let m = Message::parse(src, Framing::Datagram).unwrap();
        let mut e = Editor::new(&m);
        e.set_body(b"12345678901");
        e.replace(m.request_uri_raw().unwrap(), b"sip:c@d").unwrap();
        e.push(Edit::insert(m.headers_end(), b"X: 1\r\n")).unwrap();
        let want: &[u8] = b"OPTIONS sip:c@d SIP/2.0\r\nContent-Length: 11\r\nVia: SIP/2.0/UDP h\r\nContent-Length: 11\r\nX: 1\r\n\r\n12345678901";
        let mut out = [0u8; 256];
        let n = e.emit(&mut out).unwrap();
        assert_eq!(&out[..n], want);
        assert_eq!(e.output_len().unwrap(), want.len());
        let mut v = Vec::new();
        assert_eq!(e.emit_vec(&mut v).unwrap(), want.len());
        assert_eq!(v, want);

        // A full edit table and the body's three edits fit the plan (SIP_MAX_EDITS + 4)...
        let mut e = Editor::new(&m);
        for _ in 0..SIP_MAX_EDITS {
            e.push(Edit::insert(5, b"x")).unwrap();
        }
        e.set_body(b"12");
        assert_eq!(e.emit(&mut out), Ok(src.len() - 1 + SIP_MAX_EDITS));
        // ...five Content-Length lines and the body do not: refused, never cut short.
        let src5 = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\nContent-Length: 0\r\nContent-Length: 0\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n";
        let m5 = Message::parse(src5, Framing::Datagram).unwrap();
        let mut e = Editor::new(&m5);
        for _ in 0..SIP_MAX_EDITS {
            e.push(Edit::insert(5, b"x")).unwrap();
        }
        e.set_body(b"1");
        assert_eq!(e.emit(&mut out), Err(EditError::TooManyEdits));
        assert_eq!(e.emit_vec(&mut v), Err(EditError::TooManyEdits));
    }

    #[test]
    fn errors_are_values() {
        let m = Message::parse(MSG, Framing::Datagram).unwrap();
        let mut e = Editor::new(&m);
        let mut small = [0u8; 10];
        assert_eq!(
            e.emit(&mut small),
            Err(EditError::BufferTooSmall { needed: MSG.len() })
        );
        e.set_body(b"0123456789");
        assert_eq!(
            e.emit(&mut small),
            Err(EditError::BufferTooSmall {
                // 6 more body bytes and one more Content-Length digit.
                needed: MSG.len() + 7
            })
        );
        e.push(Edit::delete(5..10)).unwrap();
        e.push(Edit::delete(8..12)).unwrap();
        assert_eq!(e.emit(&mut [0u8; 512]), Err(EditError::Overlap));
        assert_eq!(
            e.push(Edit::delete(0..MSG.len() + 1)).unwrap_err(),
            EditError::OutOfRange
        );
        let other = b"elsewhere".to_vec();
        assert_eq!(e.replace(&other, b"x").unwrap_err(), EditError::OutOfRange);
        let mut e = Editor::new(&m);
        for _ in 0..SIP_MAX_EDITS {
            e.push(Edit::insert(5, b"x")).unwrap();
        }
        assert_eq!(
            e.push(Edit::insert(5, b"x")).unwrap_err(),
            EditError::TooManyEdits
        );
    }
}
