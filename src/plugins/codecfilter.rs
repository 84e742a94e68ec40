//! plugin_codecfilter (behaviour §8.2): codecs named in `plugin_codecfilter_blacklist`
//! (a case-insensitive part of the encoding name: `G72` blocks G722, G723 and G729) leave the
//! `application/sdp` bodies of forwarded messages. siproxd's defect is fixed: the payload type
//! goes from the `m=` format list together with its `a=rtpmap`, `a=fmtp` and `a=rtcp-fb`
//! lines. An RTP stream whose every format is blocked is never left without one: a request
//! offering it is refused with 488, an answer (response or ACK) rejects it with port 0.

use super::{BodyAction, BuildError, Ctx, Plugin};
use crate::config::Config;
use crate::sdp::{Rewriter, Sdp};
use crate::sip::Status;

#[derive(Debug)]
pub struct CodecFilter {
    blacklist: Vec<String>,
}

pub fn build(cfg: &Config) -> Result<Box<dyn Plugin>, BuildError> {
    let mut blacklist = Vec::new();
    for (i, name) in cfg.plugins.plugin_codecfilter_blacklist.iter().enumerate() {
        let name = name.trim();
        if name.is_empty() {
            return Err(BuildError::at(
                "plugin_codecfilter_blacklist",
                i,
                "empty codec name".into(),
            ));
        }
        blacklist.push(name.to_string());
    }
    Ok(Box::new(CodecFilter { blacklist }))
}

impl CodecFilter {
    fn blocked(&self, encoding: &[u8]) -> bool {
        self.blacklist.iter().any(|b| {
            let b = b.as_bytes();
            encoding.windows(b.len()).any(|w| w.eq_ignore_ascii_case(b))
        })
    }

    /// The filtered body written into `out` (`true`), `false` if nothing is blocked, or the
    /// refusal.
    fn filter(&self, body: &[u8], offer: bool, out: &mut Vec<u8>) -> Result<bool, Status> {
        let Ok(sdp) = Sdp::parse(body) else {
            return Ok(false);
        };
        let mut rw = Rewriter::new(&sdp);
        for (i, m) in sdp.media_sections().enumerate() {
            if !m.is_rtp() || m.port == 0 {
                continue;
            }
            let blocked = |pt: &&[u8]| sdp.encoding_name(i, pt).is_some_and(|e| self.blocked(e));
            let n = m.format_list().filter(blocked).count();
            if n == 0 {
                continue;
            }
            let r = if n == m.format_list().count() {
                if offer {
                    log::info!(
                        "plugin_codecfilter: every codec of m={} is blocked: 488",
                        crate::logging::Lossy(m.media)
                    );
                    return Err(Status::NOT_ACCEPTABLE_HERE);
                }
                rw.set_media_port(i, 0)
            } else {
                m.format_list()
                    .filter(blocked)
                    .try_for_each(|pt| rw.remove_payload_type(i, pt).map(|_| ()))
            };
            if let Err(e) = r {
                log::warn!("plugin_codecfilter: SDP left unfiltered: {e}");
                return Ok(false);
            }
        }
        if rw.edit_count() == 0 {
            return Ok(false);
        }
        // `out` is the pipeline's buffer, as large as a message: it never grows.
        out.clear();
        out.resize(rw.emitted_len(), 0);
        match rw.emit(out) {
            Ok(n) => {
                out.truncate(n);
                Ok(true)
            }
            Err(e) => {
                log::warn!("plugin_codecfilter: SDP left unfiltered: {e}");
                Ok(false)
            }
        }
    }
}

impl Plugin for CodecFilter {
    fn name(&self) -> &'static str {
        "codecfilter"
    }

    fn body(&mut self, ctx: &Ctx<'_, '_>, body: &[u8], out: &mut Vec<u8>) -> BodyAction {
        if body.is_empty() || self.blacklist.is_empty() {
            return BodyAction::Keep;
        }
        let sdp = matches!(ctx.msg.content_type(), Ok(Some(ct)) if ct.is("application", "sdp"));
        if !sdp {
            return BodyAction::Keep;
        }
        let offer = ctx.msg.is_request() && ctx.msg.method() != Some(b"ACK");
        match self.filter(body, offer, out) {
            Ok(true) => BodyAction::Replaced,
            Ok(false) => BodyAction::Keep,
            Err(status) => BodyAction::Refuse(status),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::tests::with_ctx;

    fn plugin(names: &[&str]) -> Box<dyn Plugin> {
        let mut cfg = Config::default();
        cfg.plugins.plugin_codecfilter_blacklist = names.iter().map(|s| s.to_string()).collect();
        build(&cfg).unwrap()
    }

    const SDP: &str = "v=0\r\no=- 1 1 IN IP4 192.168.1.10\r\ns=-\r\nc=IN IP4 192.168.1.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18 0 101 9\r\na=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=rtcp-fb:18 nack\r\na=sendrecv\r\nm=video 4002 RTP/AVP 34\r\na=rtpmap:34 H263/90000\r\n";

    fn message(first: &str, ct: &str, body: &str) -> String {
        let cseq = if first.starts_with("SIP/") {
            "INVITE"
        } else {
            first.split(' ').next().unwrap()
        };
        format!("{first}\r\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKp1\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1@h\r\nCSeq: 1 {cseq}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n{body}", body.len())
    }

    /// What the plugin did, and the new body when it replaced it.
    fn run(p: &mut Box<dyn Plugin>, first: &str, ct: &str, body: &str) -> (BodyAction, String) {
        let text = message(first, ct, body);
        let mut out = Vec::new();
        let a = with_ctx(&text, |ctx| p.body(ctx, ctx.msg.body(), &mut out));
        (a, String::from_utf8(out).unwrap())
    }

    fn replaced((a, body): (BodyAction, String)) -> String {
        assert_eq!(a, BodyAction::Replaced);
        body
    }

    #[test]
    fn the_payload_type_leaves_m_and_its_rtpmap_fmtp_and_rtcp_fb_lines() {
        let mut p = plugin(&["g729"]);
        let out = replaced(run(
            &mut p,
            "INVITE sip:b@h SIP/2.0",
            "application/sdp",
            SDP,
        ));
        assert!(out.contains("m=audio 4000 RTP/AVP 0 101 9\r\n"), "{out}");
        for gone in ["G729", "annexb", "rtcp-fb"] {
            assert!(!out.contains(gone), "{gone} in {out}");
        }
        // Everything else is kept byte for byte.
        let expected = SDP
            .replace(" 18 0", " 0")
            .replace("a=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\n", "")
            .replace("a=rtcp-fb:18 nack\r\n", "");
        assert_eq!(out, expected);
    }

    #[test]
    fn names_are_case_insensitive_parts_and_static_types_count_without_rtpmap() {
        // "G72" blocks 18 (G729) and 9 (G722, a static type with no rtpmap line).
        let mut p = plugin(&["G72", "h261"]);
        let out = replaced(run(
            &mut p,
            "INVITE sip:b@h SIP/2.0",
            "application/sdp",
            SDP,
        ));
        assert!(out.contains("m=audio 4000 RTP/AVP 0 101\r\n"), "{out}");
        assert!(out.contains("m=video 4002 RTP/AVP 34\r\n"), "{out}");
    }

    #[test]
    fn a_stream_left_without_codecs_refuses_an_offer_and_is_rejected_in_an_answer() {
        let mut p = plugin(&["H263"]);
        assert_eq!(
            run(&mut p, "INVITE sip:b@h SIP/2.0", "application/sdp", SDP).0,
            BodyAction::Refuse(Status::NOT_ACCEPTABLE_HERE)
        );
        let out = replaced(run(&mut p, "SIP/2.0 200 OK", "application/sdp", SDP));
        assert!(out.contains("m=video 0 RTP/AVP 34\r\n"), "{out}");
        let out = replaced(run(&mut p, "ACK sip:b@h SIP/2.0", "application/sdp", SDP));
        assert!(out.contains("m=video 0 RTP/AVP 34\r\n"), "{out}");
    }

    #[test]
    fn other_bodies_and_unblocked_sdp_are_kept() {
        let mut p = plugin(&["G729"]);
        assert_eq!(
            run(&mut p, "INVITE sip:b@h SIP/2.0", "text/plain", SDP).0,
            BodyAction::Keep
        );
        let clean = SDP.replace("G729", "G722");
        let clean = clean.replace("RTP/AVP 18 0 101 9", "RTP/AVP 18 0 101");
        assert_eq!(
            run(&mut p, "INVITE sip:b@h SIP/2.0", "application/sdp", &clean).0,
            BodyAction::Keep
        );
        assert_eq!(
            run(
                &mut p,
                "INVITE sip:b@h SIP/2.0",
                "application/sdp",
                "garbage"
            )
            .0,
            BodyAction::Keep
        );
        let mut cfg = Config::default();
        cfg.plugins.plugin_codecfilter_blacklist = vec![" ".into()];
        assert!(build(&cfg)
            .unwrap_err()
            .to_string()
            .contains("plugin_codecfilter_blacklist"));
    }
}
