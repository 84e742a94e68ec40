//! Status codes the proxy answers with, each with its reason phrase (RFC 3261 §21), so a code
//! and its phrase are written in one place.

/// A response status: code and reason phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub code: u16,
    pub reason: &'static str,
}

impl Status {
    pub const fn new(code: u16, reason: &'static str) -> Status {
        Status { code, reason }
    }

    pub const OK: Status = Status::new(200, "OK");
    pub const FORBIDDEN: Status = Status::new(403, "Forbidden");
    pub const PROXY_AUTHENTICATION_REQUIRED: Status =
        Status::new(407, "Proxy Authentication Required");
    pub const REQUEST_TIMEOUT: Status = Status::new(408, "Request Timeout");
    pub const UNSUPPORTED_URI_SCHEME: Status = Status::new(416, "Unsupported URI Scheme");
    pub const BAD_EXTENSION: Status = Status::new(420, "Bad Extension");
    pub const LOOP_DETECTED: Status = Status::new(482, "Loop Detected");
    pub const TOO_MANY_HOPS: Status = Status::new(483, "Too Many Hops");
    pub const NOT_ACCEPTABLE_HERE: Status = Status::new(488, "Not Acceptable Here");
    pub const SERVER_INTERNAL_ERROR: Status = Status::new(500, "Server Internal Error");
    pub const SERVICE_UNAVAILABLE: Status = Status::new(503, "Service Unavailable");
    /// 503 with a phrase that tells the phone's user why (decisions §3).
    pub const REGISTRATION_TABLE_FULL: Status = Status::new(503, "Registration Table Full");

    /// 400 with a phrase naming what is wrong (e.g. "Bad Expires").
    pub const fn bad_request(reason: &'static str) -> Status {
        Status::new(400, reason)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.reason)
    }
}
