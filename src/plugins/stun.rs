//! plugin_stun (behaviour §8.2): learns the router's public address from a STUN
//! server when the router itself sits behind another NAT. Sans-IO: [`Client`] says when a
//! Binding request is due and checks answers; the proxy core resolves the server's name, sends
//! the request from the SIP socket and makes the learned address its public one.
//!
//! The request is an RFC 5389 Binding request without attributes. Its 16 bytes after the length
//! (magic cookie and 96-bit id) are what an RFC 3489 server takes for its 128-bit transaction
//! id, so both kinds answer it: XOR-MAPPED-ADDRESS is preferred, MAPPED-ADDRESS accepted.
//! siproxd's CHANGE-REQUEST attribute is left out: RFC 5389 servers refuse it (420).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::BuildError;
use crate::config::Config;
use crate::limits::{STUN_MAX_MESSAGE, STUN_RETRY_MS};

/// Magic cookie (RFC 5389 §6); also what XOR-MAPPED-ADDRESS is XORed with.
const COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
const HEADER: usize = 20;
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const BINDING_ERROR: u16 = 0x0111;
const MAPPED_ADDRESS: u16 = 0x0001;
const XOR_MAPPED_ADDRESS: u16 = 0x0020;
/// The pre-RFC 5389 code of XOR-MAPPED-ADDRESS, still sent by old servers (siproxd read it).
const XOR_MAPPED_ADDRESS_OLD: u16 = 0x8020;

/// The 16 bytes that identify a request: cookie and 96-bit id (RFC 3489: all 128 bits).
pub type TxId = [u8; 16];

/// The Binding request for `tx`.
pub fn request(tx: &TxId) -> [u8; HEADER] {
    let mut m = [0u8; HEADER];
    let (head, id) = m.split_at_mut(4);
    head.copy_from_slice(&[0, BINDING_REQUEST as u8, 0, 0]);
    id.copy_from_slice(tx);
    m
}

/// Why an answer gave no address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// Not a STUN Binding response at all (SIP, or another STUN message).
    NotAnswer,
    /// A Binding response to another request.
    WrongTransaction,
    /// From another address than the request went to, or none is awaited.
    WrongSource,
    /// The length field or an attribute runs past the datagram.
    Truncated,
    /// A Binding error response.
    ErrorResponse,
    /// A success response without a (usable) mapped address.
    NoAddress,
}

impl Problem {
    pub fn text(self) -> &'static str {
        match self {
            Problem::NotAnswer => "not a STUN answer",
            Problem::WrongTransaction => "STUN answer to another request",
            Problem::WrongSource => "STUN answer not awaited from this address",
            Problem::Truncated => "truncated STUN answer",
            Problem::ErrorResponse => "STUN error response",
            Problem::NoAddress => "STUN answer without a mapped address",
        }
    }
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

/// The mapped address of a Binding answer to `tx`: XOR-MAPPED-ADDRESS if present, else
/// MAPPED-ADDRESS.
pub fn parse_answer(b: &[u8], tx: &TxId) -> Result<SocketAddr, Problem> {
    let kind = u16_at(b, 0).ok_or(Problem::NotAnswer)?;
    if kind != BINDING_SUCCESS && kind != BINDING_ERROR {
        return Err(Problem::NotAnswer);
    }
    let id = b.get(4..HEADER).ok_or(Problem::Truncated)?;
    if id != tx {
        return Err(Problem::WrongTransaction);
    }
    if kind == BINDING_ERROR {
        return Err(Problem::ErrorResponse);
    }
    let len = usize::from(u16_at(b, 2).ok_or(Problem::Truncated)?);
    let mut attrs = b.get(HEADER..HEADER + len).ok_or(Problem::Truncated)?;
    let (mut plain, mut xor) = (None, None);
    while !attrs.is_empty() {
        let t = u16_at(attrs, 0).ok_or(Problem::Truncated)?;
        let n = usize::from(u16_at(attrs, 2).ok_or(Problem::Truncated)?);
        let value = attrs.get(4..4 + n).ok_or(Problem::Truncated)?;
        match t {
            MAPPED_ADDRESS => plain = plain.or(address(value, None)),
            XOR_MAPPED_ADDRESS | XOR_MAPPED_ADDRESS_OLD => xor = xor.or(address(value, Some(tx))),
            _ => {}
        }
        // RFC 5389 pads values to 4 bytes; RFC 3489 values are multiples of 4 already.
        attrs = attrs.get((4 + n + 3) & !3..).unwrap_or(&[]);
    }
    xor.or(plain).ok_or(Problem::NoAddress)
}

/// An address attribute's value: reserved, family (1 IPv4, 2 IPv6), port, address; XORed
/// with the cookie and transaction id when `tx` is given (the id starts with the cookie).
fn address(v: &[u8], tx: Option<&TxId>) -> Option<SocketAddr> {
    let key = tx.copied().unwrap_or([0; 16]);
    let port = u16_at(v, 2)? ^ u16::from_be_bytes([key[0], key[1]]);
    let mut a = [0u8; 16];
    let n = match *v.get(1)? {
        1 => 4,
        2 => 16,
        _ => return None,
    };
    for ((o, b), k) in a.iter_mut().zip(v.get(4..4 + n)?).zip(key) {
        *o = b ^ k;
    }
    let ip = match a {
        [a, b, c, d, ..] if n == 4 => IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        _ => IpAddr::V6(Ipv6Addr::from(a)),
    };
    Some(SocketAddr::new(ip, port))
}

/// What [`Client::handle`] made of a datagram that arrived on the SIP socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Not STUN: it goes on as SIP.
    NotStun,
    /// Our answer (consumed); the public address it names, when it names one.
    Answer(Option<IpAddr>),
    /// STUN, but not the answer we wait for (wrong source or transaction, truncated, late):
    /// dropped, never taken for SIP.
    Ignored(Problem),
}

/// The STUN client: when to ask, what was asked, what was learned.
#[derive(Debug, Clone)]
pub struct Client {
    pub server: String,
    pub port: u16,
    period_ms: u64,
    rng: u64,
    /// The request in flight: its id and where it went.
    tx: TxId,
    sent_to: Option<SocketAddr>,
    next: u64,
    public: Option<IpAddr>,
    last_answer: Option<u64>,
}

impl Client {
    /// `plugin_stun_server` (required: siproxd crashed without it), `_port`, `_period`;
    /// `seed` makes the transaction ids unguessable.
    pub fn from_config(cfg: &Config, seed: u64) -> Result<Client, BuildError> {
        let p = &cfg.plugins;
        let server = p
            .plugin_stun_server
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                BuildError::new(
                    "plugin_stun_server",
                    "must be set to the STUN server's name or address".into(),
                )
            })?;
        Ok(Client {
            server: server.to_string(),
            port: p.plugin_stun_port,
            period_ms: u64::from(p.plugin_stun_period).saturating_mul(1000),
            rng: seed | 1,
            tx: [0; 16],
            sent_to: None,
            next: 0,
            public: None,
            last_answer: None,
        })
    }

    /// Whether `other` asks the same server the same way (a reload keeps what was learned).
    pub fn same_settings(&self, other: &Client) -> bool {
        self.server == other.server && self.port == other.port && self.period_ms == other.period_ms
    }

    /// When the next request is due (ms).
    pub fn next_due(&self) -> u64 {
        self.next
    }

    /// The public address learned.
    pub fn public(&self) -> Option<IpAddr> {
        self.public
    }

    /// When the last answer came (ms).
    pub fn last_answer(&self) -> Option<u64> {
        self.last_answer
    }

    /// The request is due: a new transaction starts, retried in 10 s unless answered. The
    /// caller resolves the server and sends [`Client::request_to`]'s bytes.
    pub fn start(&mut self, now: u64) {
        let mut id = [0u8; 16];
        let (cookie, rest) = id.split_at_mut(4);
        cookie.copy_from_slice(&COOKIE);
        for chunk in rest.chunks_mut(8) {
            // xorshift64*: unguessable enough for an off-path spoofer, given a random seed.
            self.rng ^= self.rng >> 12;
            self.rng ^= self.rng << 25;
            self.rng ^= self.rng >> 27;
            let r = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D).to_be_bytes();
            chunk.copy_from_slice(r.get(..chunk.len()).unwrap_or_default());
        }
        self.tx = id;
        self.sent_to = None;
        self.next = now.saturating_add(STUN_RETRY_MS);
    }

    /// The outbound address changed (a reconnect): the NAT in front may map us anew, so ask
    /// at the next timer instead of waiting for the period.
    pub fn ask_soon(&mut self) {
        self.next = 0;
    }

    /// The request of the current transaction, sent to `server` (its resolved address).
    pub fn request_to(&mut self, server: SocketAddr) -> [u8; HEADER] {
        self.sent_to = Some(server);
        request(&self.tx)
    }

    /// A datagram from `src` on the SIP socket. Cheap for SIP: a SIP message starts with a
    /// letter, a STUN message with two zero bits (RFC 5389 §6).
    pub fn handle(&mut self, now: u64, src: SocketAddr, b: &[u8]) -> Input {
        // Shorter than a STUN header (CRLF keepalives among them): SIP's business.
        if b.len() < HEADER || b.first().is_none_or(|c| c & 0xC0 != 0) {
            return Input::NotStun;
        }
        if b.len() > STUN_MAX_MESSAGE {
            return Input::Ignored(Problem::NotAnswer);
        }
        if self.sent_to != Some(src) {
            return Input::Ignored(Problem::WrongSource);
        }
        match parse_answer(b, &self.tx) {
            Ok(a) => {
                self.sent_to = None;
                self.last_answer = Some(now);
                self.next = now.saturating_add(self.period_ms);
                let ip = a.ip().to_canonical();
                let changed = self.public != Some(ip);
                self.public = Some(ip);
                Input::Answer(changed.then_some(ip))
            }
            // The server answered: no retry of this transaction, the 10 s timer asks again.
            Err(p @ (Problem::ErrorResponse | Problem::NoAddress)) => {
                self.sent_to = None;
                log::info!("plugin_stun: {} from {src}", p.text());
                Input::Answer(None)
            }
            Err(p) => Input::Ignored(p),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    const SERVER: &str = "192.0.2.5:3478";

    fn client() -> Client {
        let mut cfg = Config::default();
        cfg.plugins.plugin_stun_server = Some("stun.example.org".into());
        cfg.plugins.plugin_stun_period = 60;
        Client::from_config(&cfg, 42).unwrap()
    }

    /// A Binding success answer to `tx` with the given attributes (type, value).
    fn answer(tx: &TxId, attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut body = Vec::new();
        for (t, v) in attrs {
            body.extend_from_slice(&t.to_be_bytes());
            body.extend_from_slice(&(v.len() as u16).to_be_bytes());
            body.extend_from_slice(v);
            while body.len() % 4 != 0 {
                body.push(0);
            }
        }
        let mut m = vec![0x01, 0x01];
        m.extend_from_slice(&(body.len() as u16).to_be_bytes());
        m.extend_from_slice(tx);
        m.extend_from_slice(&body);
        m
    }

    fn v4(family_port_addr: (u16, [u8; 4]), xor: Option<&TxId>) -> Vec<u8> {
        let (port, a) = family_port_addr;
        let mut v = vec![0, 1];
        let k = xor.map(|t| [t[0], t[1], t[2], t[3]]).unwrap_or([0; 4]);
        v.extend_from_slice(&(port ^ u16::from_be_bytes([k[0], k[1]])).to_be_bytes());
        v.extend((0..4).map(|i| a[i] ^ k[i]));
        v
    }

    /// A client that has sent its request to SERVER at `now`.
    fn asked(now: u64) -> (Client, TxId) {
        let mut c = client();
        c.start(now);
        let req = c.request_to(SERVER.parse().unwrap());
        assert_eq!(&req[..4], &[0, 1, 0, 0], "Binding request, no attributes");
        assert_eq!(&req[4..8], &COOKIE);
        (c, req[4..].try_into().unwrap())
    }

    #[test]
    fn rfc5389_xor_mapped_address_is_preferred_over_the_plain_one() {
        let (mut c, tx) = asked(0);
        let a = answer(
            &tx,
            &[
                (MAPPED_ADDRESS, v4((1, [10, 0, 0, 1]), None)),
                (0x8022, b"SOFTWARE x".to_vec()),
                (XOR_MAPPED_ADDRESS, v4((5060, [203, 0, 113, 7]), Some(&tx))),
            ],
        );
        assert_eq!(
            parse_answer(&a, &tx),
            Ok("203.0.113.7:5060".parse().unwrap())
        );
        let ip = IpAddr::from([203, 0, 113, 7]);
        assert_eq!(
            c.handle(5, SERVER.parse().unwrap(), &a),
            Input::Answer(Some(ip))
        );
        assert_eq!((c.public(), c.last_answer()), (Some(ip), Some(5)));
        // The same address again is an answer, not a change.
        c.start(10);
        let tx2: TxId = c.request_to(SERVER.parse().unwrap())[4..]
            .try_into()
            .unwrap();
        let a2 = answer(
            &tx2,
            &[(
                XOR_MAPPED_ADDRESS_OLD,
                v4((5060, [203, 0, 113, 7]), Some(&tx2)),
            )],
        );
        assert_eq!(
            c.handle(11, SERVER.parse().unwrap(), &a2),
            Input::Answer(None)
        );
        assert_eq!(c.last_answer(), Some(11));
    }

    #[test]
    fn rfc3489_mapped_address_is_accepted() {
        let (mut c, tx) = asked(0);
        let a = answer(
            &tx,
            &[(MAPPED_ADDRESS, v4((40000, [198, 51, 100, 2]), None))],
        );
        let ip = IpAddr::from([198, 51, 100, 2]);
        assert_eq!(
            c.handle(1, SERVER.parse().unwrap(), &a),
            Input::Answer(Some(ip))
        );
    }

    #[test]
    fn ipv6_xor_mapped_address_uses_the_whole_transaction_id() {
        let (_, tx) = asked(0);
        let want: Ipv6Addr = "2001:db8::1234".parse().unwrap();
        let mut v = vec![0, 2];
        v.extend_from_slice(&(5060u16 ^ 0x2112).to_be_bytes());
        v.extend(want.octets().iter().zip(tx.iter()).map(|(a, k)| a ^ k));
        let a = answer(&tx, &[(XOR_MAPPED_ADDRESS, v)]);
        assert_eq!(
            parse_answer(&a, &tx),
            Ok(SocketAddr::new(want.into(), 5060))
        );
    }

    #[test]
    fn wrong_transaction_wrong_source_and_truncation_are_ignored() {
        let (mut c, tx) = asked(0);
        let good = answer(&tx, &[(MAPPED_ADDRESS, v4((1, [198, 51, 100, 2]), None))]);
        let mut other = tx;
        other[15] ^= 1;
        let wrong = answer(
            &other,
            &[(MAPPED_ADDRESS, v4((1, [198, 51, 100, 2]), None))],
        );
        let server: SocketAddr = SERVER.parse().unwrap();
        assert_eq!(
            c.handle(1, server, &wrong),
            Input::Ignored(Problem::WrongTransaction)
        );
        // Right id from another host, or another port of the server.
        for src in ["192.0.2.6:3478", "192.0.2.5:3479"] {
            assert_eq!(
                c.handle(1, src.parse().unwrap(), &good),
                Input::Ignored(Problem::WrongSource)
            );
        }
        // Cut anywhere: never an address, never a panic.
        for n in 0..good.len() {
            let r = c.handle(1, server, &good[..n]);
            let want = if n < HEADER {
                Input::NotStun
            } else {
                Input::Ignored(Problem::Truncated)
            };
            assert_eq!(r, want, "{n}");
        }
        // An attribute longer than the message says.
        let mut bad = good.clone();
        bad[23] = 40;
        assert_eq!(parse_answer(&bad, &tx), Err(Problem::Truncated));
        // A length field past the datagram.
        let mut bad = good.clone();
        bad[3] = 200;
        assert_eq!(parse_answer(&bad, &tx), Err(Problem::Truncated));
        assert_eq!(c.public(), None);
        // Still waiting: the real answer is taken.
        assert!(matches!(c.handle(2, server, &good), Input::Answer(Some(_))));
        // A duplicate after it is not ours any more.
        assert_eq!(
            c.handle(3, server, &good),
            Input::Ignored(Problem::WrongSource)
        );
    }

    #[test]
    fn error_responses_and_answers_without_address_give_nothing() {
        let (mut c, tx) = asked(0);
        let mut err = answer(&tx, &[]);
        err[1] = 0x11;
        assert_eq!(parse_answer(&err, &tx), Err(Problem::ErrorResponse));
        assert_eq!(
            parse_answer(&answer(&tx, &[]), &tx),
            Err(Problem::NoAddress)
        );
        let family3 = answer(&tx, &[(MAPPED_ADDRESS, vec![0, 3, 0, 1, 1, 2, 3, 4])]);
        assert_eq!(parse_answer(&family3, &tx), Err(Problem::NoAddress));
        assert_eq!(
            c.handle(1, SERVER.parse().unwrap(), &err),
            Input::Answer(None)
        );
        assert_eq!(c.public(), None);
        // The retry stays at 10 s after the send.
        assert_eq!(c.next_due(), STUN_RETRY_MS);
    }

    #[test]
    fn sip_passes_untouched() {
        let (mut c, _) = asked(0);
        let sip = b"OPTIONS sip:x SIP/2.0\r\n\r\n";
        assert_eq!(c.handle(1, SERVER.parse().unwrap(), sip), Input::NotStun);
        assert_eq!(
            c.handle(1, SERVER.parse().unwrap(), b"\r\n\r\n"),
            Input::NotStun
        );
    }

    #[test]
    fn retried_every_10_s_until_answered_then_every_period() {
        let mut c = client();
        assert_eq!(c.next_due(), 0, "asks at start");
        let server: SocketAddr = SERVER.parse().unwrap();
        let mut ids = Vec::new();
        for t in [0, 10_000, 20_000] {
            assert!(c.next_due() <= t);
            c.start(t);
            ids.push(c.request_to(server));
            assert_eq!(c.next_due(), t + 10_000);
        }
        assert!(ids[0] != ids[1] && ids[1] != ids[2], "a new id per attempt");
        // A late answer to the first attempt is not taken.
        let tx0: TxId = ids[0][4..].try_into().unwrap();
        let late = answer(&tx0, &[(MAPPED_ADDRESS, v4((1, [198, 51, 100, 2]), None))]);
        assert_eq!(
            c.handle(21_000, server, &late),
            Input::Ignored(Problem::WrongTransaction)
        );
        let tx2: TxId = ids[2][4..].try_into().unwrap();
        let a = answer(&tx2, &[(MAPPED_ADDRESS, v4((1, [198, 51, 100, 2]), None))]);
        assert!(matches!(
            c.handle(21_500, server, &a),
            Input::Answer(Some(_))
        ));
        assert_eq!(
            c.next_due(),
            21_500 + 60_000,
            "then every plugin_stun_period"
        );
    }

    #[test]
    fn an_unset_server_is_an_error_naming_the_directive() {
        let e = Client::from_config(&Config::default(), 1).unwrap_err();
        assert_eq!(e.directive, "plugin_stun_server");
    }
}
