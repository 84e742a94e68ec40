//! What was wrong with a message, and what a proxy should do about it.

use super::header::HeaderName;

/// A precise reason a SIP message (or one of its fields) was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// No bytes, or nothing but white space.
    Empty,
    /// Shorter than `limits::SIP_MIN_MESSAGE`: a NAT keepalive, never answered.
    TooShort,
    /// A physical line is longer than `limits::SIP_MAX_LINE`.
    LineTooLong,
    /// More header lines than `limits::SIP_MAX_HEADERS`.
    TooManyHeaders,
    /// The message is larger than the offsets of the header index can address.
    MessageTooLarge,
    /// The header block does not end with an empty line.
    MissingHeaderEnd,
    /// The Request-Line is not `Method SP Request-URI SP SIP-Version` with single spaces.
    BadRequestLine,
    /// The Status-Line is not `SIP-Version SP 3DIGIT SP Reason-Phrase`.
    BadStatusLine,
    /// A SIP version other than SIP/2.0 (answered 505).
    BadVersion,
    /// The Request-URI does not parse, or carries escaped headers.
    BadRequestUri,
    /// The Request-URI scheme is not one a proxy routes (answered 416).
    UnsupportedScheme,
    /// A header line without a valid `name:`.
    BadHeaderLine,
    /// A URI that does not parse.
    BadUri,
    /// A header of this kind whose value does not parse.
    BadHeader {
        name: HeaderName,
    },
    /// A header that must appear once appears more often.
    DuplicateHeader {
        name: HeaderName,
    },
    /// Content-Length announces more body bytes than are present.
    ContentLengthMismatch {
        declared: u32,
        available: usize,
    },
    /// Content-Length is negative.
    NegativeContentLength,
    /// Content-Length is not a number that fits 32 bits.
    BadContentLength,
    /// Several Content-Length headers with different values.
    ConflictingContentLength,
    /// A stream message without Content-Length cannot be framed.
    MissingContentLength,
    MissingVia,
    BadVia,
    /// The top Via branch is the bare magic cookie `z9hG4bK` (no transaction id).
    BadBranch,
    MissingCSeq,
    BadCSeq,
    /// The CSeq method differs from the request method.
    CSeqMethodMismatch,
    MissingCallId,
    MissingFrom,
    BadFrom,
    MissingTo,
    BadTo,
    BadMaxForwards,
}

/// What a proxy does with a message that failed parsing or validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyAction {
    /// Answer the request statelessly with this status code and reason phrase.
    Answer(u16, &'static str),
    /// Discard silently (after logging the reason).
    Drop,
}

impl ParseError {
    /// The response a proxy gives; responses are never answered, only dropped. An answer
    /// is built from `Message::parse_for_reply`, so errors that stop the header index (and
    /// siproxd's security checks, behaviour §4.3) are dropped.
    pub fn action(&self, is_request: bool) -> ProxyAction {
        if !is_request {
            return ProxyAction::Drop;
        }
        match self {
            ParseError::Empty
            | ParseError::TooShort
            | ParseError::MissingVia
            | ParseError::MessageTooLarge
            | ParseError::LineTooLong
            | ParseError::TooManyHeaders
            | ParseError::BadHeaderLine => ProxyAction::Drop,
            ParseError::BadVersion => ProxyAction::Answer(505, "Version Not Supported"),
            ParseError::UnsupportedScheme => ProxyAction::Answer(416, "Unsupported URI Scheme"),
            other => ProxyAction::Answer(400, other.reason()),
        }
    }

    /// A short reason phrase for a 400 answer or a log line.
    pub fn reason(&self) -> &'static str {
        match self {
            ParseError::Empty => "Empty Message",
            ParseError::TooShort => "Too Short",
            ParseError::LineTooLong => "Line Too Long",
            ParseError::TooManyHeaders => "Too Many Headers",
            ParseError::MessageTooLarge => "Message Too Large",
            ParseError::MissingHeaderEnd => "Missing End Of Headers",
            ParseError::BadRequestLine => "Bad Request-Line",
            ParseError::BadStatusLine => "Bad Status-Line",
            ParseError::BadVersion => "Version Not Supported",
            ParseError::BadRequestUri => "Bad Request-URI",
            ParseError::UnsupportedScheme => "Unsupported URI Scheme",
            ParseError::BadHeaderLine => "Bad Header Line",
            ParseError::BadUri => "Bad URI",
            ParseError::BadHeader { .. } => "Bad Header",
            ParseError::DuplicateHeader { .. } => "Duplicate Header",
            ParseError::ContentLengthMismatch { .. } => "Content-Length Mismatch",
            ParseError::NegativeContentLength => "Negative Content-Length",
            ParseError::BadContentLength => "Bad Content-Length",
            ParseError::ConflictingContentLength => "Conflicting Content-Length",
            ParseError::MissingContentLength => "Missing Content-Length",
            ParseError::MissingVia => "Missing Via",
            ParseError::BadVia => "Bad Via",
            ParseError::BadBranch => "Bad Via Branch",
            ParseError::MissingCSeq => "Missing CSeq",
            ParseError::BadCSeq => "Bad CSeq",
            ParseError::CSeqMethodMismatch => "CSeq Method Mismatch",
            ParseError::MissingCallId => "Missing Call-ID",
            ParseError::MissingFrom => "Missing From",
            ParseError::BadFrom => "Bad From",
            ParseError::MissingTo => "Missing To",
            ParseError::BadTo => "Bad To",
            ParseError::BadMaxForwards => "Bad Max-Forwards",
        }
    }
}

impl core::fmt::Display for ParseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ParseError::BadHeader { name } | ParseError::DuplicateHeader { name } => {
                write!(f, "{}: {}", self.reason(), name.as_str())
            }
            ParseError::ContentLengthMismatch {
                declared,
                available,
            } => write!(
                f,
                "Content-Length {declared} but only {available} body bytes"
            ),
            _ => f.write_str(self.reason()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions() {
        assert_eq!(
            ParseError::BadVersion.action(true),
            ProxyAction::Answer(505, "Version Not Supported")
        );
        assert_eq!(
            ParseError::UnsupportedScheme.action(true),
            ProxyAction::Answer(416, "Unsupported URI Scheme")
        );
        assert_eq!(
            ParseError::MissingCallId.action(true),
            ProxyAction::Answer(400, "Missing Call-ID")
        );
        assert_eq!(ParseError::BadCSeq.action(false), ProxyAction::Drop);
        assert_eq!(ParseError::MissingVia.action(true), ProxyAction::Drop);
        assert_eq!(ParseError::TooShort.action(true), ProxyAction::Drop);
        assert_eq!(ParseError::LineTooLong.action(true), ProxyAction::Drop);
        assert_eq!(
            ParseError::MissingHeaderEnd.action(true),
            ProxyAction::Answer(400, "Missing End Of Headers")
        );
    }
}
