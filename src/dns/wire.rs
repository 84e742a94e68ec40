//! DNS message format (RFC 1035 §4, RFC 2782 SRV, RFC 3596 AAAA): build one query, read one reply.
//!
//! Names are handled in text form, lower-cased, without the trailing dot. Every read is bounds
//! checked and compression pointers are followed a bounded number of times, so any byte string
//! yields a value or an error, never a panic.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::limits::{DNS_MAX_ADDRS, DNS_MAX_SRV, DNS_NAME_MAX};

/// A domain name in text form, lower case, no trailing dot.
pub type Name = heapless::String<DNS_NAME_MAX>;

const HEADER_LEN: usize = 12;
const FLAG_QR: u16 = 0x8000;
const FLAG_TC: u16 = 0x0200;
const FLAG_RD: u16 = 0x0100;
const RCODE_NXDOMAIN: u8 = 3;
const TYPE_CNAME: u16 = 5;
const TYPE_SOA: u16 = 6;
const CLASS_IN: u16 = 1;
/// More pointers than this in one name can only be a loop (a 255-byte name has < 128 labels,
/// and legitimate encoders use one pointer per name).
const MAX_POINTERS: usize = 32;
/// CNAME hops followed inside one answer section.
const MAX_CNAME_HOPS: usize = 8;

/// The record types the resolver asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QType {
    A,
    Aaaa,
    Srv,
}

impl fmt::Display for QType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QType::A => "A",
            QType::Aaaa => "AAAA",
            QType::Srv => "SRV",
        })
    }
}

impl QType {
    pub fn code(self) -> u16 {
        match self {
            QType::A => 1,
            QType::Aaaa => 28,
            QType::Srv => 33,
        }
    }
}

/// What was wrong with a name or a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// The output buffer cannot hold the query.
    BufferTooSmall,
    EmptyName,
    /// A label is empty (`a..b`) or longer than 63 octets.
    BadLabelLength,
    /// The name exceeds 255 octets on the wire / 253 characters.
    NameTooLong,
    /// A label holds a byte that is not printable ASCII (or a dot inside a label).
    BadNameChar,
    /// The message ends inside a field.
    ShortPacket,
    /// A compression pointer points outside the message or pointers loop.
    BadPointer,
    /// Label type 0x40/0x80 (extended / reserved).
    BadLabelType,
    /// QR bit clear or opcode not QUERY.
    NotAResponse,
    IdMismatch,
    /// Question count, name, type or class differ from what was asked.
    QuestionMismatch,
    /// Record data length does not fit its type.
    BadRdata,
    /// CNAME chain longer than we follow.
    CnameChainTooLong,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            WireError::BufferTooSmall => "output buffer too small for the query",
            WireError::EmptyName => "empty domain name",
            WireError::BadLabelLength => "empty label or label longer than 63 octets",
            WireError::NameTooLong => "domain name longer than 255 octets",
            WireError::BadNameChar => "non-printable character in a domain name",
            WireError::ShortPacket => "message ends inside a field",
            WireError::BadPointer => "compression pointer out of bounds or looping",
            WireError::BadLabelType => "reserved label type",
            WireError::NotAResponse => "not a standard query response",
            WireError::IdMismatch => "response id does not match the query",
            WireError::QuestionMismatch => "response question does not match the query",
            WireError::BadRdata => "record data length wrong for its type",
            WireError::CnameChainTooLong => "CNAME chain too long",
        };
        f.write_str(s)
    }
}

/// One SRV record (RFC 2782).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrvRecord {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: Name,
}

/// The meaning of a reply to our question.
// Kept inline: boxing would allocate per reply.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A or AAAA records of the name (after following CNAMEs); `ttl` is the smallest TTL used.
    Addrs {
        addrs: heapless::Vec<IpAddr, DNS_MAX_ADDRS>,
        ttl: u32,
    },
    /// SRV records in message order; targets of "." (service not offered) are left out.
    Srv {
        records: heapless::Vec<SrvRecord, DNS_MAX_SRV>,
        ttl: u32,
    },
    /// The name exists but has no record of the type; TTL from the SOA if one was given.
    NoData {
        negative_ttl: Option<u32>,
    },
    NxDomain {
        negative_ttl: Option<u32>,
    },
    /// SERVFAIL, REFUSED, NOTIMP, ...: try another server.
    ServerFailure {
        rcode: u8,
    },
    /// TC bit set: we do not fall back to TCP.
    Truncated,
}

/// Checks a text name the way `build_query` will encode it; returns its length without a
/// trailing dot.
pub fn validate_name(name: &str) -> Result<usize, WireError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err(WireError::EmptyName);
    }
    if name.len() > DNS_NAME_MAX {
        return Err(WireError::NameTooLong);
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(WireError::BadLabelLength);
        }
        if !label.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(WireError::BadNameChar);
        }
    }
    Ok(name.len())
}

fn put(buf: &mut [u8], pos: usize, bytes: &[u8]) -> Result<usize, WireError> {
    let end = pos
        .checked_add(bytes.len())
        .ok_or(WireError::BufferTooSmall)?;
    buf.get_mut(pos..end)
        .ok_or(WireError::BufferTooSmall)?
        .copy_from_slice(bytes);
    Ok(end)
}

/// Writes a standard recursive query (RD set, one IN question) into `buf`; returns its length.
pub fn build_query(buf: &mut [u8], id: u16, name: &str, qtype: QType) -> Result<usize, WireError> {
    validate_name(name)?;
    let name = name.strip_suffix('.').unwrap_or(name);
    let mut pos = put(buf, 0, &id.to_be_bytes())?;
    pos = put(buf, pos, &FLAG_RD.to_be_bytes())?;
    // qdcount 1, ancount/nscount/arcount 0
    pos = put(buf, pos, &[0, 1, 0, 0, 0, 0, 0, 0])?;
    for label in name.split('.') {
        // validate_name bounded the label to 63 octets
        let len = u8::try_from(label.len()).map_err(|_| WireError::BadLabelLength)?;
        pos = put(buf, pos, &[len])?;
        pos = put(buf, pos, label.as_bytes())?;
    }
    pos = put(buf, pos, &[0])?;
    pos = put(buf, pos, &qtype.code().to_be_bytes())?;
    put(buf, pos, &CLASS_IN.to_be_bytes())
}

fn u8_at(msg: &[u8], pos: usize) -> Result<u8, WireError> {
    msg.get(pos).copied().ok_or(WireError::ShortPacket)
}

fn u16_at(msg: &[u8], pos: usize) -> Result<u16, WireError> {
    let end = pos.checked_add(2).ok_or(WireError::ShortPacket)?;
    match msg.get(pos..end) {
        Some(&[a, b]) => Ok(u16::from_be_bytes([a, b])),
        _ => Err(WireError::ShortPacket),
    }
}

fn u32_at(msg: &[u8], pos: usize) -> Result<u32, WireError> {
    let end = pos.checked_add(4).ok_or(WireError::ShortPacket)?;
    match msg.get(pos..end) {
        Some(&[a, b, c, d]) => Ok(u32::from_be_bytes([a, b, c, d])),
        _ => Err(WireError::ShortPacket),
    }
}

/// Reads the (possibly compressed) name at `start` into `out`, lower-cased; returns the position
/// just after the name in the original byte stream.
pub fn read_name(msg: &[u8], start: usize, out: &mut Name) -> Result<usize, WireError> {
    out.clear();
    let mut pos = start;
    let mut after: Option<usize> = None;
    let mut pointers = 0usize;
    loop {
        let len = u8_at(msg, pos)?;
        match len & 0xC0 {
            0x00 if len == 0 => return Ok(after.unwrap_or(pos.saturating_add(1))),
            0x00 => {
                let from = pos.saturating_add(1);
                let to = from.saturating_add(usize::from(len));
                let label = msg.get(from..to).ok_or(WireError::ShortPacket)?;
                if !out.is_empty() {
                    out.push('.').map_err(|_| WireError::NameTooLong)?;
                }
                for &b in label {
                    if !b.is_ascii_graphic() || b == b'.' {
                        return Err(WireError::BadNameChar);
                    }
                    out.push(char::from(b.to_ascii_lowercase()))
                        .map_err(|_| WireError::NameTooLong)?;
                }
                pos = to;
            }
            0xC0 => {
                let low = u8_at(msg, pos.saturating_add(1))?;
                if after.is_none() {
                    after = Some(pos.saturating_add(2));
                }
                pointers += 1;
                let target = (usize::from(len & 0x3F) << 8) | usize::from(low);
                if pointers > MAX_POINTERS || target >= msg.len() {
                    return Err(WireError::BadPointer);
                }
                pos = target;
            }
            _ => return Err(WireError::BadLabelType),
        }
    }
}

/// One resource record header; the data stays in the message.
struct Record {
    owner: Name,
    rtype: u16,
    class: u16,
    ttl: u32,
    rdata: usize,
    rdlen: usize,
}

/// Reads the record at `pos`; returns it and the position of the next one.
fn read_record(msg: &[u8], pos: usize) -> Result<(Record, usize), WireError> {
    let mut owner = Name::new();
    let pos = read_name(msg, pos, &mut owner)?;
    let rtype = u16_at(msg, pos)?;
    let class = u16_at(msg, pos.saturating_add(2))?;
    // RFC 2181 §8: a TTL with the top bit set is treated as zero.
    let raw_ttl = u32_at(msg, pos.saturating_add(4))?;
    let ttl = if raw_ttl & 0x8000_0000 != 0 {
        0
    } else {
        raw_ttl
    };
    let rdlen = usize::from(u16_at(msg, pos.saturating_add(8))?);
    let rdata = pos.saturating_add(10);
    let next = rdata.saturating_add(rdlen);
    if next > msg.len() {
        return Err(WireError::ShortPacket);
    }
    let rec = Record {
        owner,
        rtype,
        class,
        ttl,
        rdata,
        rdlen,
    };
    Ok((rec, next))
}

/// Calls `f` for each of `count` records from `pos`; returns the position after the last.
fn for_each_record(
    msg: &[u8],
    mut pos: usize,
    count: u16,
    mut f: impl FnMut(&Record) -> Result<(), WireError>,
) -> Result<usize, WireError> {
    for _ in 0..count {
        let (rec, next) = read_record(msg, pos)?;
        f(&rec)?;
        pos = next;
    }
    Ok(pos)
}

/// Reads the first two bytes (the id) of a message, if present.
pub fn message_id(msg: &[u8]) -> Option<u16> {
    u16_at(msg, 0).ok()
}

/// Interprets `msg` as the reply to query `id` for `qname`/`qtype`.
///
/// Errors mean "not an acceptable reply to this query" (wrong id or question, malformed):
/// the caller keeps waiting for a genuine one.
pub fn parse_reply(msg: &[u8], id: u16, qname: &str, qtype: QType) -> Result<Reply, WireError> {
    if u16_at(msg, 0)? != id {
        return Err(WireError::IdMismatch);
    }
    let flags = u16_at(msg, 2)?;
    if flags & FLAG_QR == 0 || (flags >> 11) & 0xF != 0 {
        return Err(WireError::NotAResponse);
    }
    let qdcount = u16_at(msg, 4)?;
    let ancount = u16_at(msg, 6)?;
    let nscount = u16_at(msg, 8)?;
    if qdcount != 1 {
        return Err(WireError::QuestionMismatch);
    }
    let qname = qname.strip_suffix('.').unwrap_or(qname);
    let mut name = Name::new();
    let pos = read_name(msg, HEADER_LEN, &mut name)?;
    if !name.eq_ignore_ascii_case(qname)
        || u16_at(msg, pos)? != qtype.code()
        || u16_at(msg, pos.saturating_add(2))? != CLASS_IN
    {
        return Err(WireError::QuestionMismatch);
    }
    let answers = pos.saturating_add(4);
    let rcode = (flags & 0xF) as u8;
    if flags & FLAG_TC != 0 {
        return Ok(Reply::Truncated);
    }
    if rcode != 0 && rcode != RCODE_NXDOMAIN {
        return Ok(Reply::ServerFailure { rcode });
    }

    // Follow the CNAME chain from the question name, whatever order the records come in.
    let mut current = Name::new();
    current
        .push_str(&name)
        .map_err(|_| WireError::NameTooLong)?;
    let mut ttl = u32::MAX;
    let mut hops = 0;
    loop {
        let mut next: Option<(Name, u32)> = None;
        for_each_record(msg, answers, ancount, |rec| {
            if next.is_none()
                && rec.rtype == TYPE_CNAME
                && rec.class == CLASS_IN
                && rec.owner == current
            {
                let mut target = Name::new();
                read_name(msg, rec.rdata, &mut target)?;
                next = Some((target, rec.ttl));
            }
            Ok(())
        })?;
        match next {
            Some((target, cname_ttl)) => {
                hops += 1;
                if hops > MAX_CNAME_HOPS {
                    return Err(WireError::CnameChainTooLong);
                }
                current = target;
                ttl = ttl.min(cname_ttl);
            }
            None => break,
        }
    }

    let mut addrs = heapless::Vec::<IpAddr, DNS_MAX_ADDRS>::new();
    let mut records = heapless::Vec::<SrvRecord, DNS_MAX_SRV>::new();
    let mut found = false;
    let authority = for_each_record(msg, answers, ancount, |rec| {
        if rec.rtype != qtype.code() || rec.class != CLASS_IN || rec.owner != current {
            return Ok(());
        }
        let data = rec
            .rdata
            .checked_add(rec.rdlen)
            .and_then(|end| msg.get(rec.rdata..end))
            .ok_or(WireError::ShortPacket)?;
        match qtype {
            QType::A => {
                let octets: [u8; 4] = data.try_into().map_err(|_| WireError::BadRdata)?;
                // extra records beyond capacity are dropped on purpose
                let _ = addrs.push(IpAddr::V4(Ipv4Addr::from(octets)));
            }
            QType::Aaaa => {
                let octets: [u8; 16] = data.try_into().map_err(|_| WireError::BadRdata)?;
                let _ = addrs.push(IpAddr::V6(Ipv6Addr::from(octets)));
            }
            QType::Srv => {
                if rec.rdlen < 7 {
                    return Err(WireError::BadRdata);
                }
                let mut target = Name::new();
                let end = read_name(msg, rec.rdata.saturating_add(6), &mut target)?;
                if end != rec.rdata.saturating_add(rec.rdlen) {
                    return Err(WireError::BadRdata);
                }
                if !target.is_empty() {
                    let srv = SrvRecord {
                        priority: u16_at(msg, rec.rdata)?,
                        weight: u16_at(msg, rec.rdata.saturating_add(2))?,
                        port: u16_at(msg, rec.rdata.saturating_add(4))?,
                        target,
                    };
                    keep_best_srv(&mut records, srv);
                }
            }
        }
        found = true;
        ttl = ttl.min(rec.ttl);
        Ok(())
    })?;

    if rcode == 0 && found {
        if qtype == QType::Srv && !records.is_empty() {
            return Ok(Reply::Srv { records, ttl });
        }
        if !addrs.is_empty() {
            return Ok(Reply::Addrs { addrs, ttl });
        }
    }
    let negative_ttl = soa_negative_ttl(msg, authority, nscount)?;
    if rcode == RCODE_NXDOMAIN {
        Ok(Reply::NxDomain { negative_ttl })
    } else {
        Ok(Reply::NoData { negative_ttl })
    }
}

impl SrvRecord {
    /// Sort key: lower priority first, then higher weight (RFC 2782).
    pub fn preference(&self) -> (u16, u16) {
        (self.priority, u16::MAX - self.weight)
    }
}

/// Adds `srv`; when full, it replaces the least preferred record if it is better, so a long
/// record set still yields the best targets.
fn keep_best_srv(records: &mut heapless::Vec<SrvRecord, DNS_MAX_SRV>, srv: SrvRecord) {
    if let Err(srv) = records.push(srv) {
        let worst = records
            .iter_mut()
            .max_by_key(|r| r.preference())
            .filter(|w| w.preference() > srv.preference());
        if let Some(w) = worst {
            *w = srv;
        }
    }
}

/// RFC 2308 §5: negative answers live min(SOA TTL, SOA MINIMUM).
fn soa_negative_ttl(msg: &[u8], pos: usize, count: u16) -> Result<Option<u32>, WireError> {
    let mut result = None;
    let mut scratch = Name::new();
    for_each_record(msg, pos, count, |rec| {
        if rec.rtype == TYPE_SOA && rec.class == CLASS_IN && result.is_none() {
            let after_mname = read_name(msg, rec.rdata, &mut scratch)?;
            let after_rname = read_name(msg, after_mname, &mut scratch)?;
            // serial, refresh, retry, expire, then minimum
            let minimum = u32_at(msg, after_rname.saturating_add(16))?;
            result = Some(rec.ttl.min(minimum));
        }
        Ok(())
    })?;
    Ok(result)
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

    #[test]
    fn query_bytes_match_rfc1035_layout() {
        let mut buf = [0u8; 64];
        let n = build_query(&mut buf, 0xBEEF, "Example.COM.", QType::A).unwrap();
        let expected: &[u8] = &[
            0xBE, 0xEF, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // header
            7, b'E', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'C', b'O', b'M', 0, // name
            0x00, 0x01, 0x00, 0x01, // A, IN
        ];
        assert_eq!(&buf[..n], expected);
    }

    #[test]
    fn srv_and_aaaa_query_types() {
        let mut buf = [0u8; 64];
        let n = build_query(&mut buf, 1, "_sip._udp.a.b", QType::Srv).unwrap();
        assert_eq!(
            &buf[12..n],
            b"\x04_sip\x04_udp\x01a\x01b\x00\x00\x21\x00\x01"
        );
        let n = build_query(&mut buf, 2, "x", QType::Aaaa).unwrap();
        assert_eq!(
            &buf[..n],
            b"\x00\x02\x01\x00\x00\x01\0\0\0\0\0\0\x01x\x00\x00\x1c\x00\x01"
        );
    }

    #[test]
    fn query_rejects_bad_names_and_small_buffers() {
        let mut buf = [0u8; 300];
        assert_eq!(
            build_query(&mut buf, 1, "", QType::A),
            Err(WireError::EmptyName)
        );
        assert_eq!(
            build_query(&mut buf, 1, "a..b", QType::A),
            Err(WireError::BadLabelLength)
        );
        let long_label = "a".repeat(64);
        assert_eq!(
            build_query(&mut buf, 1, &long_label, QType::A),
            Err(WireError::BadLabelLength)
        );
        let long_name = ["abcdefghi"; 26].join(".");
        assert_eq!(
            build_query(&mut buf, 1, &long_name, QType::A),
            Err(WireError::NameTooLong)
        );
        assert_eq!(
            build_query(&mut buf, 1, "a b", QType::A),
            Err(WireError::BadNameChar)
        );
        assert_eq!(
            build_query(&mut buf[..20], 1, "example.com", QType::A),
            Err(WireError::BufferTooSmall)
        );
        // the longest valid name fits in DNS_QUERY_MAX
        let max_name = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61),
        ]
        .join(".");
        assert_eq!(max_name.len(), 253);
        let n = build_query(&mut buf, 1, &max_name, QType::A).unwrap();
        assert_eq!(n, crate::limits::DNS_QUERY_MAX);
    }

    /// Builds a reply header + question for `name` the way a server echoes it.
    fn reply(id: u16, flags: u16, counts: [u16; 3], qname: &[u8], qtype: u16) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        for c in counts {
            m.extend_from_slice(&c.to_be_bytes());
        }
        m.extend_from_slice(qname);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        m
    }

    fn rr(m: &mut Vec<u8>, owner: &[u8], rtype: u16, ttl: u32, rdata: &[u8]) {
        m.extend_from_slice(owner);
        m.extend_from_slice(&rtype.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        m.extend_from_slice(&ttl.to_be_bytes());
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(rdata);
    }

    const EXAMPLE: &[u8] = b"\x07example\x03com\x00";

    #[test]
    fn a_records_via_compression_pointer() {
        let mut m = reply(7, 0x8180, [2, 0, 0], EXAMPLE, 1);
        rr(&mut m, &[0xC0, 12], 1, 300, &[192, 0, 2, 1]);
        rr(&mut m, &[0xC0, 12], 1, 120, &[192, 0, 2, 2]);
        let r = parse_reply(&m, 7, "example.com", QType::A).unwrap();
        let Reply::Addrs { addrs, ttl } = r else {
            panic!("{r:?}")
        };
        assert_eq!(ttl, 120);
        assert_eq!(
            addrs.as_slice(),
            &[
                "192.0.2.1".parse::<IpAddr>().unwrap(),
                "192.0.2.2".parse().unwrap()
            ]
        );
    }

    #[test]
    fn aaaa_record() {
        let mut m = reply(9, 0x8180, [1, 0, 0], EXAMPLE, 28);
        let v6: Ipv6Addr = "2001:db8::5".parse().unwrap();
        rr(&mut m, &[0xC0, 12], 28, 60, &v6.octets());
        let r = parse_reply(&m, 9, "EXAMPLE.com.", QType::Aaaa).unwrap();
        assert_eq!(
            r,
            Reply::Addrs {
                addrs: heapless::Vec::from_slice(&[IpAddr::V6(v6)]).unwrap(),
                ttl: 60
            }
        );
    }

    #[test]
    fn cname_chain_followed_in_any_order() {
        // example.com CNAME b.example.com; b CNAME c.net; c.net A 10.1.2.3 — listed out of order
        let mut m = reply(1, 0x8180, [3, 0, 0], EXAMPLE, 1);
        let c_net_at = m.len(); // owner of the first record below is c.net, written in full
        rr(&mut m, b"\x01c\x03net\x00", 1, 50, &[10, 1, 2, 3]);
        // b.example.com = "\x01b" + pointer to "example.com" at 12
        let b_at = m.len() + 2 + 10; // rdata of the next record: after a 2-byte owner pointer
        let mut cname_b = b"\x01b".to_vec();
        cname_b.extend_from_slice(&[0xC0, 12]);
        rr(&mut m, &[0xC0, 12], 5, 500, &cname_b);
        let b_ptr = [0xC0 | (b_at >> 8) as u8, b_at as u8];
        let c_ptr = [0xC0 | (c_net_at >> 8) as u8, c_net_at as u8];
        rr(&mut m, &b_ptr, 5, 40, &c_ptr);
        let r = parse_reply(&m, 1, "example.com", QType::A).unwrap();
        assert_eq!(
            r,
            Reply::Addrs {
                addrs: heapless::Vec::from_slice(&["10.1.2.3".parse().unwrap()]).unwrap(),
                ttl: 40
            }
        );
    }

    #[test]
    fn cname_loop_is_an_error() {
        let mut m = reply(1, 0x8180, [1, 0, 0], EXAMPLE, 1);
        rr(&mut m, &[0xC0, 12], 5, 5, &[0xC0, 12]);
        assert_eq!(
            parse_reply(&m, 1, "example.com", QType::A),
            Err(WireError::CnameChainTooLong)
        );
    }

    #[test]
    fn srv_records_and_dot_target() {
        let mut m = reply(
            3,
            0x8180,
            [3, 0, 0],
            b"\x04_sip\x04_udp\x07example\x03com\x00",
            33,
        );
        let mut d = vec![0, 10, 0, 60, 0x13, 0xC4];
        d.extend_from_slice(b"\x03sip\x07example\x03com\x00");
        rr(&mut m, &[0xC0, 12], 33, 900, &d);
        let mut d2 = vec![0, 20, 0, 0, 0x13, 0xC5];
        d2.extend_from_slice(&[0xC0, 12 + 10]); // pointer to example.com inside the question
        rr(&mut m, &[0xC0, 12], 33, 800, &d2);
        rr(&mut m, &[0xC0, 12], 33, 700, &[0, 1, 0, 1, 0, 1, 0]); // "." target: left out
        let r = parse_reply(&m, 3, "_sip._udp.example.com", QType::Srv).unwrap();
        let Reply::Srv { records, ttl } = r else {
            panic!("{r:?}")
        };
        assert_eq!(ttl, 700);
        assert_eq!(records.len(), 2);
        assert_eq!(
            (records[0].priority, records[0].weight, records[0].port),
            (10, 60, 5060)
        );
        assert_eq!(records[0].target.as_str(), "sip.example.com");
        assert_eq!((records[1].priority, records[1].port), (20, 5061));
        assert_eq!(records[1].target.as_str(), "example.com");
    }

    #[test]
    fn long_srv_sets_keep_the_best_records() {
        let qname = b"\x04_sip\x04_udp\x07example\x03com\x00";
        let n = DNS_MAX_SRV as u16 + 3;
        let mut m = reply(3, 0x8180, [n, 0, 0], qname, 33);
        // priorities n..1 descending: the best ones come last
        for i in 0..n {
            let prio = n - i;
            let mut d = prio.to_be_bytes().to_vec();
            d.extend_from_slice(&[0, 0, 0x13, 0xC4, 1, b'a' + i as u8, 0]);
            rr(&mut m, &[0xC0, 12], 33, 60, &d);
        }
        let Ok(Reply::Srv { records, .. }) =
            parse_reply(&m, 3, "_sip._udp.example.com", QType::Srv)
        else {
            panic!()
        };
        let mut prios: Vec<u16> = records.iter().map(|r| r.priority).collect();
        prios.sort_unstable();
        assert_eq!(prios, (1..=DNS_MAX_SRV as u16).collect::<Vec<_>>());
    }

    #[test]
    fn negative_replies_with_soa_ttl() {
        let mut m = reply(4, 0x8183, [0, 1, 0], EXAMPLE, 1);
        let mut soa = b"\x02ns\xC0\x0C\x04root\xC0\x0C".to_vec();
        for v in [1u32, 2, 3, 4, 30] {
            soa.extend_from_slice(&v.to_be_bytes());
        }
        rr(&mut m, &[0xC0, 12], 6, 100, &soa);
        assert_eq!(
            parse_reply(&m, 4, "example.com", QType::A),
            Ok(Reply::NxDomain {
                negative_ttl: Some(30)
            })
        );
        m[3] = 0x80; // NOERROR, still no answer
        assert_eq!(
            parse_reply(&m, 4, "example.com", QType::A),
            Ok(Reply::NoData {
                negative_ttl: Some(30)
            })
        );
        let m = reply(4, 0x8180, [0, 0, 0], EXAMPLE, 1);
        assert_eq!(
            parse_reply(&m, 4, "example.com", QType::A),
            Ok(Reply::NoData { negative_ttl: None })
        );
    }

    #[test]
    fn servfail_truncated_and_mismatches() {
        let m = reply(5, 0x8182, [0, 0, 0], EXAMPLE, 1);
        assert_eq!(
            parse_reply(&m, 5, "example.com", QType::A),
            Ok(Reply::ServerFailure { rcode: 2 })
        );
        let m = reply(5, 0x8380, [0, 0, 0], EXAMPLE, 1);
        assert_eq!(
            parse_reply(&m, 5, "example.com", QType::A),
            Ok(Reply::Truncated)
        );
        let m = reply(5, 0x8180, [0, 0, 0], EXAMPLE, 1);
        assert_eq!(
            parse_reply(&m, 6, "example.com", QType::A),
            Err(WireError::IdMismatch)
        );
        assert_eq!(
            parse_reply(&m, 5, "example.org", QType::A),
            Err(WireError::QuestionMismatch)
        );
        assert_eq!(
            parse_reply(&m, 5, "example.com", QType::Aaaa),
            Err(WireError::QuestionMismatch)
        );
        let q = reply(5, 0x0100, [0, 0, 0], EXAMPLE, 1);
        assert_eq!(
            parse_reply(&q, 5, "example.com", QType::A),
            Err(WireError::NotAResponse)
        );
    }

    #[test]
    fn malformed_packets_are_errors() {
        let mut m = reply(1, 0x8180, [1, 0, 0], EXAMPLE, 1);
        rr(&mut m, &[0xC0, 12], 1, 5, &[1, 2, 3]); // A with 3 bytes
        assert_eq!(
            parse_reply(&m, 1, "example.com", QType::A),
            Err(WireError::BadRdata)
        );
        let mut m = reply(1, 0x8180, [1, 0, 0], EXAMPLE, 1);
        rr(&mut m, &[0xC0, 12], 1, 5, &[1, 2, 3, 4]);
        m.truncate(m.len() - 1);
        assert_eq!(
            parse_reply(&m, 1, "example.com", QType::A),
            Err(WireError::ShortPacket)
        );
        // pointer to itself in the question
        let m = reply(1, 0x8180, [0, 0, 0], &[0xC0, 12], 1);
        assert_eq!(
            parse_reply(&m, 1, "example.com", QType::A),
            Err(WireError::BadPointer)
        );
        let m = reply(1, 0x8180, [0, 0, 0], &[0xC0, 0xFF], 1);
        assert_eq!(
            parse_reply(&m, 1, "example.com", QType::A),
            Err(WireError::BadPointer)
        );
        let m = reply(1, 0x8180, [0, 0, 0], &[0x40, 0], 1);
        assert_eq!(
            parse_reply(&m, 1, "example.com", QType::A),
            Err(WireError::BadLabelType)
        );
        assert_eq!(
            parse_reply(&[0, 1, 0x81], 1, "x", QType::A),
            Err(WireError::ShortPacket)
        );
    }

    #[test]
    fn top_bit_ttl_counts_as_zero() {
        let mut m = reply(1, 0x8180, [1, 0, 0], EXAMPLE, 1);
        rr(&mut m, &[0xC0, 12], 1, 0x8000_0001, &[1, 2, 3, 4]);
        let Ok(Reply::Addrs { ttl, .. }) = parse_reply(&m, 1, "example.com", QType::A) else {
            panic!()
        };
        assert_eq!(ttl, 0);
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = parse_reply(&bytes, message_id(&bytes).unwrap_or(0), "example.com", QType::A);
            let _ = parse_reply(&bytes, message_id(&bytes).unwrap_or(0), "example.com", QType::Srv);
            let mut name = Name::new();
            for start in 0..bytes.len().min(40) {
                let _ = read_name(&bytes, start, &mut name);
            }
        }

        #[test]
        fn mutated_replies_never_panic(flip in 0usize..64, val in proptest::num::u8::ANY) {
            let mut m = reply(1, 0x8180, [2, 0, 0], EXAMPLE, 33);
            rr(&mut m, &[0xC0, 12], 5, 9, &[0xC0, 12]);
            rr(&mut m, &[0xC0, 12], 33, 9, &[0, 1, 0, 1, 0, 1, 0xC0, 12]);
            let i = flip % m.len();
            m[i] = val;
            let _ = parse_reply(&m, 1, "example.com", QType::Srv);
        }
    }
}
