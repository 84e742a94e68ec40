#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! What the SDP said one relayed stream carries (media kind, first payload type and its codec
//! name), kept in the half for the status snapshot only. Filled when a stream is opened, never
//! per packet; fixed size so a half stays allocation-free.

use crate::sdp::Sdp;

/// Longest media kind kept (`audio`, `video`, `application`, ...).
pub const MEDIA_KIND_SIZE: usize = 12;
/// Longest codec name kept (`PCMU`, `telephone-event`, `opus`, ...).
pub const CODEC_NAME_SIZE: usize = 16;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaInfo {
    /// The `m=` media kind, e.g. `audio`; empty if unknown.
    pub kind: heapless::String<MEDIA_KIND_SIZE>,
    /// First format of the `m=` line when it is an RTP payload type (0..=127).
    pub payload_type: Option<u8>,
    /// Encoding name of that payload type (`a=rtpmap`, else the RFC 3551 static name);
    /// empty if unknown.
    pub codec: heapless::String<CODEC_NAME_SIZE>,
}

impl MediaInfo {
    /// The media section `index` of `sdp`; `None` if there is no such section.
    pub fn from_sdp(sdp: &Sdp<'_>, index: usize) -> Option<MediaInfo> {
        let m = sdp.media(index)?;
        let mut info = MediaInfo {
            kind: printable(m.media),
            ..MediaInfo::default()
        };
        let first = m.format_list().next();
        info.payload_type = first
            .and_then(|pt| core::str::from_utf8(pt).ok())
            .and_then(|pt| pt.parse::<u8>().ok())
            .filter(|pt| *pt <= 127);
        if let (Some(_), Some(pt)) = (info.payload_type, first) {
            if let Some(name) = sdp.encoding_name(index, pt) {
                info.codec = printable(name);
            }
        }
        Some(info)
    }
}

/// Network bytes as short text: printable ASCII kept, anything else `?`, cut at `N` bytes.
fn printable<const N: usize>(bytes: &[u8]) -> heapless::String<N> {
    let mut s = heapless::String::new();
    for &b in bytes {
        let c = if b.is_ascii_graphic() {
            char::from(b)
        } else {
            '?'
        };
        if s.push(c).is_err() {
            break;
        }
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn info(body: &str, index: usize) -> Option<MediaInfo> {
        let sdp = Sdp::parse(body.as_bytes()).unwrap();
        MediaInfo::from_sdp(&sdp, index)
    }

    const BODY: &str =
        "v=0\r\no=- 1 1 IN IP4 192.168.1.10\r\ns=-\r\nc=IN IP4 192.168.1.10\r\nt=0 0\r\n\
        m=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n\
        m=video 4002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
        m=audio 4004 RTP/AVP 97\r\n\
        m=application 4006 UDP/BFCP *\r\n";

    #[test]
    fn first_payload_type_and_its_codec() {
        let a = info(BODY, 0).unwrap();
        assert_eq!(
            (a.kind.as_str(), a.payload_type, a.codec.as_str()),
            ("audio", Some(8), "PCMA"),
            "static type without rtpmap gets its RFC 3551 name"
        );
        let v = info(BODY, 1).unwrap();
        assert_eq!(
            (v.kind.as_str(), v.payload_type, v.codec.as_str()),
            ("video", Some(96), "H264")
        );
        let d = info(BODY, 2).unwrap();
        assert_eq!(
            (d.payload_type, d.codec.as_str()),
            (Some(97), ""),
            "dynamic type without rtpmap: number only"
        );
        let x = info(BODY, 3).unwrap();
        assert_eq!((x.kind.as_str(), x.payload_type), ("application", None));
        assert_eq!(info(BODY, 4), None);
    }

    #[test]
    fn hostile_names_are_cut_and_made_printable() {
        let body =
            "v=0\r\no=- 1 1 IN IP4 192.168.1.10\r\ns=-\r\nc=IN IP4 192.168.1.10\r\nt=0 0\r\n\
            m=audiovideotextmore 4000 RTP/AVP 200 96\r\n\
            m=audio 4002 RTP/AVP 96\r\na=rtpmap:96 a\x1b[2Jverylongcodecname/8000\r\n";
        let a = info(body, 0).unwrap();
        assert_eq!(a.kind.as_str(), "audiovideote");
        assert_eq!(a.payload_type, None, "200 is not an RTP payload type");
        let b = info(body, 1).unwrap();
        assert_eq!(b.codec.as_str(), "a?[2Jverylongcod");
    }
}
