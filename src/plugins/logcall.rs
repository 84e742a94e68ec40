//! plugin_logcall (behaviour §8.2): logs the calls going through (INVITE, ACK, BYE, CANCEL)
//! with From, To, Request-URI, source and Call-ID.

use super::{BuildError, Ctx, Decision, Plugin};
use crate::config::Config;

#[derive(Debug)]
pub struct LogCall;

pub fn build(_cfg: &Config) -> Result<Box<dyn Plugin>, BuildError> {
    Ok(Box::new(LogCall))
}

/// The log line of a call-related request, written straight into the log record; `None`
/// for anything else.
fn line<'a>(ctx: &'a Ctx<'a, 'a>) -> Option<Line<'a>> {
    let what = match ctx.msg.method()? {
        b"INVITE" => "call",
        b"ACK" => "ack",
        b"BYE" => "hangup",
        b"CANCEL" => "cancel",
        _ => return None,
    };
    Some(Line(ctx, what))
}

struct Line<'a>(&'a Ctx<'a, 'a>, &'static str);

fn text(b: Option<&[u8]>) -> crate::logging::Lossy<'_> {
    crate::logging::Lossy(b.unwrap_or(b"?"))
}

impl std::fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Line(ctx, what) = self;
        let m = ctx.msg;
        write!(
            f,
            "plugin_logcall: {what} from {} to {} (Request-URI {}) from {} Call-ID {}",
            text(m.from().ok().map(|f| f.uri.raw)),
            text(m.to().ok().map(|t| t.uri.raw)),
            text(m.request_uri_raw()),
            ctx.origin.src,
            text(m.call_id().ok()),
        )
    }
}

impl Plugin for LogCall {
    fn name(&self) -> &'static str {
        "logcall"
    }

    fn determine_target(&mut self, ctx: &Ctx<'_, '_>) -> Decision<'_> {
        if let Some(l) = line(ctx) {
            log::info!("{l}");
        }
        Decision::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::tests::ctx_for;

    #[test]
    fn calls_are_logged_and_other_requests_are_not() {
        ctx_for("INVITE sip:bob@example.com SIP/2.0", |ctx| {
            assert_eq!(
                line(ctx).unwrap().to_string(),
                "plugin_logcall: call from sip:alice@example.com to sip:bob@example.com \
                 (Request-URI sip:bob@example.com) from 192.168.1.10:5060 Call-ID c1@h"
            );
        });
        ctx_for("OPTIONS sip:bob@example.com SIP/2.0", |ctx| {
            assert!(line(ctx).is_none())
        });
    }
}
