//! Digest proxy authentication of registrar-mode REGISTERs (`proxy_auth_realm`,
//! `proxy_auth_passwd`, `proxy_auth_pwfile`; behaviour §4.7 with the fixes of decisions §5).
//!
//! Nonces are stateless: `<timestamp:16 hex><HMAC-SHA-256(key, timestamp) truncated:32 hex>`,
//! with a key drawn from the OS at start. A nonce from another boot fails the HMAC, an old one
//! is answered `stale=true`. Nothing is stored per client, so a flood of REGISTERs costs no
//! memory.

use crate::logging::Quoted;
use md5::{Digest, Md5};
use sha2::Sha256;
use std::fmt::Write as _;
use std::net::IpAddr;

/// Nonces older than this are stale (decisions §5).
pub const NONCE_LIFETIME_SECS: u64 = 300;
const NONCE_TS_HEX: usize = 16;
const NONCE_MAC_HEX: usize = 32;

/// Digest algorithms offered and accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    fn from_name(s: &str) -> Option<Algorithm> {
        if s.eq_ignore_ascii_case("MD5") {
            Some(Algorithm::Md5)
        } else if s.eq_ignore_ascii_case("SHA-256") {
            Some(Algorithm::Sha256)
        } else {
            None
        }
    }

    /// Lowercase hex digest of the concatenation of `parts`.
    fn hex(self, parts: &[&[u8]]) -> String {
        match self {
            Algorithm::Md5 => {
                let mut h = Md5::new();
                for p in parts {
                    h.update(p);
                }
                to_hex(&h.finalize())
            }
            Algorithm::Sha256 => {
                let mut h = Sha256::new();
                for p in parts {
                    h.update(p);
                }
                to_hex(&h.finalize())
            }
        }
    }
}

fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Compares without an early exit, so the time taken does not reveal how much matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What a nonce's HMAC covers: its timestamp and the client address it was issued to.
fn signed(ts_hex: &str, client: IpAddr) -> Vec<u8> {
    let mut v = ts_hex.as_bytes().to_vec();
    v.push(b'/');
    v.extend_from_slice(client.to_canonical().to_string().as_bytes());
    v
}

/// HMAC-SHA-256 (RFC 2104), enough for nonce signing.
fn hmac_sha256(key: &[u8; 32], msg: &[u8]) -> [u8; 32] {
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for (i, k) in key.iter().enumerate() {
        if let (Some(a), Some(b)) = (ipad.get_mut(i), opad.get_mut(i)) {
            *a ^= k;
            *b ^= k;
        }
    }
    let inner = Sha256::new()
        .chain_update(ipad)
        .chain_update(msg)
        .finalize();
    let outer = Sha256::new()
        .chain_update(opad)
        .chain_update(inner)
        .finalize();
    outer.into()
}

/// The password file of `proxy_auth_pwfile`: `<user> <password>` lines, `#` comments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasswordFile {
    entries: Vec<(String, String)>,
}

impl PasswordFile {
    /// Parses the file's text. Lines with fewer than two words are skipped; their numbers are
    /// returned so the caller can warn.
    pub fn parse(text: &str) -> (PasswordFile, Vec<usize>) {
        let mut entries = Vec::new();
        let mut skipped = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            match (words.next(), words.next()) {
                (Some(u), Some(p)) => entries.push((u.to_string(), p.to_string())),
                _ => skipped.push(i + 1),
            }
        }
        (PasswordFile { entries }, skipped)
    }

    /// Usernames are compared case-sensitively, as siproxd does.
    pub fn password(&self, user: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(u, _)| u == user)
            .map(|(_, p)| p.as_str())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The parameters of a `Proxy-Authorization: Digest ...` header value, borrowed from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials<'a> {
    pub username: Option<&'a str>,
    pub realm: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub uri: Option<&'a str>,
    pub response: Option<&'a str>,
    pub algorithm: Option<&'a str>,
    pub qop: Option<&'a str>,
    pub nc: Option<&'a str>,
    pub cnonce: Option<&'a str>,
    pub opaque: Option<&'a str>,
}

/// Why a Proxy-Authorization value could not be used at all (→ 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialsError {
    NotDigest,
    BadSyntax,
    NotUtf8,
}

impl std::fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CredentialsError::NotDigest => "Proxy-Authorization scheme is not Digest",
            CredentialsError::BadSyntax => "malformed Proxy-Authorization parameters",
            CredentialsError::NotUtf8 => "Proxy-Authorization is not valid text",
        })
    }
}

impl<'a> Credentials<'a> {
    /// Parses `Digest name=value, name="quoted value", ...` with the SIP parser's
    /// auth-param reading (`sip::Credentials`); unknown parameters are ignored.
    pub fn parse(value: &'a [u8]) -> Result<Credentials<'a>, CredentialsError> {
        let raw = crate::sip::Credentials::parse(value).ok_or(CredentialsError::BadSyntax)?;
        if !raw.is_digest() {
            return Err(CredentialsError::NotDigest);
        }
        let text = |v: Option<&'a [u8]>| -> Result<Option<&'a str>, CredentialsError> {
            v.map(|b| std::str::from_utf8(b).map_err(|_| CredentialsError::NotUtf8))
                .transpose()
        };
        Ok(Credentials {
            username: text(raw.username())?,
            realm: text(raw.realm())?,
            nonce: text(raw.nonce())?,
            uri: text(raw.uri())?,
            response: text(raw.response())?,
            algorithm: text(raw.algorithm())?,
            qop: text(raw.qop())?,
            nc: text(raw.nc())?,
            cnonce: text(raw.cnonce())?,
            opaque: text(raw.opaque())?,
        })
    }
}

/// Why credentials with the right password still do not fit the request they came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Misfit {
    /// The digest `username` is not the user of the AOR (To) being registered.
    User { user: String, aor_user: String },
    /// The digest `uri` is not the Request-URI (nor an equivalent of it).
    Uri { uri: String, request_uri: String },
}

impl std::fmt::Display for Misfit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Misfit::User { user, aor_user } => {
                write!(
                    f,
                    "user {} not allowed for AOR user {}",
                    Quoted(user),
                    Quoted(aor_user)
                )
            }
            Misfit::Uri { uri, request_uri } => {
                write!(
                    f,
                    "digest uri {} differs from Request-URI {}",
                    Quoted(uri),
                    Quoted(request_uri)
                )
            }
        }
    }
}

/// The authenticated user must be the user of the AOR being bound, and the digest must have
/// been computed for this request's Request-URI (RFC 3261 §22.4), compared with
/// [`uri_equivalent`] because honest clients write the same URI differently.
pub fn credentials_fit(
    creds: &Credentials<'_>,
    aor_user: Option<&[u8]>,
    request_uri: Option<&[u8]>,
) -> Result<(), Misfit> {
    let lossy = |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
    let user = creds.username.unwrap_or_default();
    if aor_user != Some(user.as_bytes()) {
        return Err(Misfit::User {
            user: user.to_string(),
            aor_user: lossy(aor_user),
        });
    }
    let uri = creds.uri.unwrap_or_default();
    match request_uri {
        Some(r) if uri_equivalent(uri.as_bytes(), r) => Ok(()),
        _ => Err(Misfit::Uri {
            uri: uri.to_string(),
            request_uri: lossy(request_uri),
        }),
    }
}

/// Whether two sip/sips URIs are equivalent by the rules of RFC 3261 §19.1.4, except that an
/// absent port equals the scheme's default port (5060, 5061 for sips): clients hash
/// `sip:10.0.0.1:5060` for the Request-URI `sip:10.0.0.1`. Userinfo compares case-sensitively
/// and host case-insensitively (addresses by value), after %-decoding; parameters in any
/// order, where `user`, `ttl`, `method`, `maddr` and `transport` must be in both or neither.
/// Other schemes must be byte-identical.
pub fn uri_equivalent(a: &[u8], b: &[u8]) -> bool {
    use crate::sip::{escaped_eq, Host, Scheme, Uri};
    if a == b {
        return true;
    }
    let (Ok(x), Ok(y)) = (Uri::parse(a), Uri::parse(b)) else {
        return false;
    };
    if !x.is_sip() || x.scheme != y.scheme {
        return false;
    }
    let same = |p: Option<&[u8]>, q: Option<&[u8]>, ignore_case: bool| match (p, q) {
        (None, None) => true,
        (Some(p), Some(q)) => escaped_eq(p, q, ignore_case),
        _ => false,
    };
    if !same(x.user, y.user, false) || !same(x.password, y.password, false) {
        return false;
    }
    let host_ok = match (x.host, y.host) {
        (Some(Host::Name(p)), Some(Host::Name(q))) => p.eq_ignore_ascii_case(q),
        (Some(p), Some(q)) => p == q,
        _ => false,
    };
    let default_port = if x.scheme == Scheme::Sips { 5061 } else { 5060 };
    if !host_ok || x.port.unwrap_or(default_port) != y.port.unwrap_or(default_port) {
        return false;
    }
    let must_match = |name: &[u8]| {
        [&b"user"[..], b"ttl", b"method", b"maddr", b"transport"]
            .iter()
            .any(|m| m.eq_ignore_ascii_case(name))
    };
    let params_ok = |from: &Uri<'_>, other: &Uri<'_>| {
        from.params.iter().all(|p| {
            match other
                .params
                .iter()
                .find(|q| q.name.eq_ignore_ascii_case(p.name))
            {
                Some(q) => same(p.value, q.value, true),
                None => !must_match(p.name),
            }
        })
    };
    params_ok(&x, &y) && params_ok(&y, &x) && same(x.headers, y.headers, false)
}

/// The outcome of checking credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The digest matches a known password.
    Accepted,
    /// The digest is right but the nonce is too old or was not issued by this boot: challenge
    /// again with `stale=true`.
    Stale,
    /// Other realm, unknown user or wrong digest: answered 403 (decisions §4).
    Rejected(&'static str),
    /// A required parameter is missing or unusable: answered 400.
    Malformed(&'static str),
}

/// Verifies digest credentials for one realm. Holds the per-boot nonce key.
#[derive(Debug, Clone)]
pub struct Authenticator {
    realm: String,
    key: [u8; 32],
    passwd: Option<String>,
    pwfile: Option<PasswordFile>,
    sha256: bool,
}

impl Authenticator {
    /// `key` must come from the OS random source (the shell reads getrandom). With `pwfile`,
    /// `passwd` is ignored, as in siproxd. `sha256` adds an RFC 8760 SHA-256 challenge.
    pub fn new(
        realm: &str,
        key: [u8; 32],
        passwd: Option<&str>,
        pwfile: Option<PasswordFile>,
        sha256: bool,
    ) -> Authenticator {
        Authenticator {
            realm: realm.to_string(),
            key,
            passwd: passwd.map(str::to_string),
            pwfile,
            sha256,
        }
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// A fresh nonce for time `now` (seconds), good only for a client at `client` (so
    /// credentials captured on the wire cannot be replayed from another host).
    pub fn nonce(&self, now: u64, client: IpAddr) -> String {
        let ts = format!("{now:016x}");
        let mac = hmac_sha256(&self.key, &signed(&ts, client));
        let mut s = ts;
        s.push_str(&to_hex(mac.get(..NONCE_MAC_HEX / 2).unwrap_or(&[])));
        s
    }

    /// Checks a nonce's signature; returns its timestamp when it is ours.
    fn nonce_time(&self, nonce: &str, client: IpAddr) -> Option<u64> {
        if nonce.len() != NONCE_TS_HEX + NONCE_MAC_HEX {
            return None;
        }
        let ts_hex = nonce.get(..NONCE_TS_HEX)?;
        let mac = hmac_sha256(&self.key, &signed(ts_hex, client));
        let expected = to_hex(mac.get(..NONCE_MAC_HEX / 2)?);
        if !constant_time_eq(expected.as_bytes(), nonce.get(NONCE_TS_HEX..)?.as_bytes()) {
            return None;
        }
        u64::from_str_radix(ts_hex, 16).ok()
    }

    /// The `Proxy-Authenticate` header values to send (SHA-256 first when enabled, RFC 8760).
    pub fn challenges(&self, now: u64, stale: bool, client: IpAddr) -> Vec<String> {
        let nonce = self.nonce(now, client);
        let mut algs = Vec::with_capacity(2);
        if self.sha256 {
            algs.push(Algorithm::Sha256);
        }
        algs.push(Algorithm::Md5);
        algs.into_iter()
            .map(|alg| {
                let mut v = format!(
                    "Digest realm=\"{}\", nonce=\"{}\", algorithm={}, qop=\"auth\"",
                    self.realm,
                    nonce,
                    alg.name()
                );
                if stale {
                    v.push_str(", stale=true");
                }
                v
            })
            .collect()
    }

    fn password(&self, user: &str) -> Option<&str> {
        match &self.pwfile {
            Some(f) => f.password(user),
            None => self.passwd.as_deref(),
        }
    }

    /// Verifies `creds` for a request with `method` at time `now` (seconds).
    pub fn verify(
        &self,
        now: u64,
        method: &str,
        creds: &Credentials<'_>,
        client: IpAddr,
    ) -> Verdict {
        let (Some(user), Some(nonce), Some(uri), Some(response)) =
            (creds.username, creds.nonce, creds.uri, creds.response)
        else {
            return Verdict::Malformed(
                "Proxy-Authorization lacks username, nonce, uri or response",
            );
        };
        let alg = match creds.algorithm {
            None => Algorithm::Md5,
            Some(a) => match Algorithm::from_name(a) {
                Some(Algorithm::Sha256) if !self.sha256 => {
                    return Verdict::Rejected("SHA-256 was not offered")
                }
                Some(alg) => alg,
                None => return Verdict::Rejected("unsupported digest algorithm"),
            },
        };
        // HA1 uses the configured realm (decisions §5): a client answering for another realm fails.
        if creds.realm != Some(self.realm.as_str()) {
            return Verdict::Rejected("realm does not match");
        }
        let Some(password) = self.password(user) else {
            return Verdict::Rejected("unknown user");
        };
        let ha1 = alg.hex(&[
            user.as_bytes(),
            b":",
            self.realm.as_bytes(),
            b":",
            password.as_bytes(),
        ]);
        let ha2 = alg.hex(&[method.as_bytes(), b":", uri.as_bytes()]);
        let expected = match creds.qop {
            None => alg.hex(&[ha1.as_bytes(), b":", nonce.as_bytes(), b":", ha2.as_bytes()]),
            Some(q) if q.eq_ignore_ascii_case("auth") => {
                let (Some(nc), Some(cnonce)) = (creds.nc, creds.cnonce) else {
                    return Verdict::Malformed("qop=auth without nc or cnonce");
                };
                if nc.len() != 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Verdict::Malformed("nc is not 8 hex digits");
                }
                alg.hex(&[
                    ha1.as_bytes(),
                    b":",
                    nonce.as_bytes(),
                    b":",
                    nc.as_bytes(),
                    b":",
                    cnonce.as_bytes(),
                    b":",
                    q.as_bytes(),
                    b":",
                    ha2.as_bytes(),
                ])
            }
            Some(_) => return Verdict::Rejected("unsupported qop"),
        };
        let given = response.to_ascii_lowercase();
        if !constant_time_eq(expected.as_bytes(), given.as_bytes()) {
            return Verdict::Rejected("wrong password");
        }
        // Right password, but a nonce we did not issue in this boot (a phone still holding one
        // from before a restart) or an old one: never accepted, challenged again with
        // stale=true so the phone retries without asking its user.
        match self.nonce_time(nonce, client) {
            Some(issued)
                if now.saturating_sub(issued) <= NONCE_LIFETIME_SECS
                    && issued <= now.saturating_add(5) =>
            {
                Verdict::Accepted
            }
            _ => Verdict::Stale,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7u8; 32];
    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 168, 1, 10));

    fn md5_hex(s: &str) -> String {
        Algorithm::Md5.hex(&[s.as_bytes()])
    }

    fn auth(sha256: bool) -> Authenticator {
        Authenticator::new("testrealm", KEY, Some("secret"), None, sha256)
    }

    fn header(user: &str, nonce: &str, response: &str, extra: &str) -> String {
        format!(
            "Digest username=\"{user}\", realm=\"testrealm\", nonce=\"{nonce}\", \
             uri=\"sip:192.168.1.1\", response=\"{response}\"{extra}"
        )
    }

    #[test]
    fn hex_digests_match_known_vectors() {
        assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            Algorithm::Sha256.hex(&[b"abc"]),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        // RFC 4231 test case 2 uses a 4-byte key; pad our fixed-size key the same way HMAC does.
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let mac = hmac_sha256(&key, b"what do ya want for nothing?");
        assert_eq!(
            to_hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn behaviour_test_12_md5_without_qop_is_accepted() {
        let a = auth(false);
        let nonce = a.nonce(1000, IP);
        let ha1 = md5_hex("alice:testrealm:secret");
        let ha2 = md5_hex("REGISTER:sip:192.168.1.1");
        let resp = md5_hex(&format!("{ha1}:{nonce}:{ha2}"));
        let h = header("alice", &nonce, &resp, "");
        let c = Credentials::parse(h.as_bytes()).unwrap();
        assert_eq!(a.verify(1010, "REGISTER", &c, IP), Verdict::Accepted);
    }

    #[test]
    fn behaviour_test_13_wrong_response_is_rejected() {
        let a = auth(false);
        let nonce = a.nonce(1000, IP);
        let h = header("alice", &nonce, "00000000000000000000000000000000", "");
        let c = Credentials::parse(h.as_bytes()).unwrap();
        assert_eq!(
            a.verify(1010, "REGISTER", &c, IP),
            Verdict::Rejected("wrong password")
        );
    }

    #[test]
    fn expired_nonce_is_stale_and_foreign_nonce_is_rejected() {
        let a = auth(false);
        let nonce = a.nonce(1000, IP);
        let ha1 = md5_hex("alice:testrealm:secret");
        let ha2 = md5_hex("REGISTER:sip:192.168.1.1");
        let resp = md5_hex(&format!("{ha1}:{nonce}:{ha2}"));
        let h = header("alice", &nonce, &resp, "");
        let c = Credentials::parse(h.as_bytes()).unwrap();
        assert_eq!(
            a.verify(1000 + NONCE_LIFETIME_SECS + 1, "REGISTER", &c, IP),
            Verdict::Stale
        );

        // Same digest computed correctly, but the nonce came from a boot with another key.
        let other = Authenticator::new("testrealm", [9u8; 32], Some("secret"), None, false);
        let foreign = other.nonce(1000, IP);
        let resp = md5_hex(&format!("{ha1}:{foreign}:{ha2}"));
        let h = header("alice", &foreign, &resp, "");
        let c = Credentials::parse(h.as_bytes()).unwrap();
        assert_eq!(a.verify(1010, "REGISTER", &c, IP), Verdict::Stale);
        // With the wrong password the foreign nonce does not matter: refused.
        let resp = md5_hex(&format!(
            "{}:{foreign}:{ha2}",
            md5_hex("alice:testrealm:wrong")
        ));
        let h = header("alice", &foreign, &resp, "");
        let c = Credentials::parse(h.as_bytes()).unwrap();
        assert_eq!(
            a.verify(1010, "REGISTER", &c, IP),
            Verdict::Rejected("wrong password")
        );
    }

    #[test]
    fn qop_auth_with_increasing_nc_and_sha256() {
        let a = auth(true);
        let nonce = a.nonce(50, IP);
        for (alg, name) in [(Algorithm::Md5, "MD5"), (Algorithm::Sha256, "SHA-256")] {
            let ha1 = alg.hex(&[b"alice:testrealm:secret"]);
            let ha2 = alg.hex(&[b"REGISTER:sip:192.168.1.1"]);
            for nc in ["00000001", "00000002"] {
                let resp = alg.hex(&[format!("{ha1}:{nonce}:{nc}:abc:auth:{ha2}").as_bytes()]);
                let h = header(
                    "alice",
                    &nonce,
                    &resp,
                    &format!(", algorithm={name}, qop=auth, nc={nc}, cnonce=\"abc\""),
                );
                let c = Credentials::parse(h.as_bytes()).unwrap();
                assert_eq!(
                    a.verify(60, "REGISTER", &c, IP),
                    Verdict::Accepted,
                    "{name} {nc}"
                );
            }
        }
        let ch = a.challenges(60, false, IP);
        assert_eq!(ch.len(), 2);
        assert!(ch[0].contains("algorithm=SHA-256") && ch[1].contains("algorithm=MD5"));
        assert!(!auth(false).challenges(60, true, IP)[0].contains("SHA-256"));
        assert!(auth(false).challenges(60, true, IP)[0].ends_with("stale=true"));
    }

    #[test]
    fn challenges_carry_the_realm_and_fresh_nonces() {
        let a = auth(false);
        let c1 = a.challenges(100, false, IP);
        let c2 = a.challenges(101, false, IP);
        assert!(c1[0].starts_with("Digest realm=\"testrealm\", nonce=\""));
        assert_ne!(c1, c2);
    }

    #[test]
    fn behaviour_test_14_password_file_wins() {
        let (pw, skipped) = PasswordFile::parse("# users\nalice secret\n\nbroken\n");
        assert_eq!(skipped, vec![4]);
        assert_eq!(pw.len(), 1);
        let a = Authenticator::new("testrealm", KEY, Some("other"), Some(pw), false);
        let nonce = a.nonce(10, IP);
        let ha2 = md5_hex("REGISTER:sip:192.168.1.1");
        let ha1 = md5_hex("alice:testrealm:secret");
        let resp = md5_hex(&format!("{ha1}:{nonce}:{ha2}"));
        let ok = header("alice", &nonce, &resp, "");
        assert_eq!(
            a.verify(
                10,
                "REGISTER",
                &Credentials::parse(ok.as_bytes()).unwrap(),
                IP
            ),
            Verdict::Accepted
        );
        let bob = header("bob", &nonce, &resp, "");
        assert_eq!(
            a.verify(
                10,
                "REGISTER",
                &Credentials::parse(bob.as_bytes()).unwrap(),
                IP
            ),
            Verdict::Rejected("unknown user")
        );
    }

    #[test]
    fn malformed_credentials_never_panic() {
        let a = auth(true);
        for h in [
            "",
            "Basic abc",
            "Digest",
            "Digest username",
            "Digest username=\"alice",
            "Digest username=\"a\" realm=\"b\"",
            "Digest =x",
            "Digest username=\"alice\", realm=\"testrealm\"",
        ] {
            match Credentials::parse(h.as_bytes()) {
                Err(_) => {}
                Ok(c) => assert!(matches!(
                    a.verify(1, "REGISTER", &c, IP),
                    Verdict::Malformed(_)
                )),
            }
        }
        let c = Credentials::parse(
            b"Digest username=\"a\", realm=\"testrealm\", nonce=\"x\", uri=\"u\", response=\"r\", qop=auth",
        )
        .unwrap();
        assert!(matches!(
            a.verify(1, "REGISTER", &c, IP),
            Verdict::Malformed(_) | Verdict::Rejected(_)
        ));
    }

    #[test]
    fn digest_uri_equivalence_follows_rfc3261_with_the_default_port_explicit() {
        for (a, b) in [
            // sipp's digest client and many phones make the default port explicit.
            ("sip:10.0.0.1:5060", "sip:10.0.0.1"),
            ("sip:10.0.0.1", "sip:10.0.0.1:5060"),
            ("sips:example.com:5061", "sips:example.com"),
            ("SIP:Example.COM", "sip:example.com"),
            ("sip:%61lice@example.com", "sip:alice@example.com"),
            (
                "sip:example.com;transport=udp;lr",
                "sip:example.com;lr;transport=UDP",
            ),
            ("sip:example.com;foo=1", "sip:example.com"),
            ("sip:[2001:db8::1]:5060", "sip:[2001:db8:0::1]"),
        ] {
            assert!(uri_equivalent(a.as_bytes(), b.as_bytes()), "{a} ~ {b}");
        }
        for (a, b) in [
            ("sip:10.0.0.2", "sip:10.0.0.1"),
            ("sip:10.0.0.1:5070", "sip:10.0.0.1"),
            ("sips:10.0.0.1:5060", "sip:10.0.0.1"),
            ("sip:10.0.0.1:5061", "sips:10.0.0.1"),
            ("sip:Alice@example.com", "sip:alice@example.com"),
            ("sip:bob@example.com", "sip:example.com"),
            ("sip:example.com;transport=tcp", "sip:example.com"),
            ("sip:example.com;foo=1", "sip:example.com;foo=2"),
            ("sip:example.com;maddr=10.0.0.9", "sip:example.com"),
            ("tel:+123", "tel:+1234"),
            ("not a uri", "sip:example.com"),
        ] {
            assert!(!uri_equivalent(a.as_bytes(), b.as_bytes()), "{a} !~ {b}");
        }
    }

    #[test]
    fn misfits_name_the_user_and_the_uris() {
        let h = |user: &str, uri: &str| {
            format!("Digest username=\"{user}\", realm=\"r\", nonce=\"n\", uri=\"{uri}\", response=\"x\"")
        };
        let ok = h("alice", "sip:10.0.0.1:5060");
        let c = Credentials::parse(ok.as_bytes()).unwrap();
        assert_eq!(
            credentials_fit(&c, Some(b"alice"), Some(b"sip:10.0.0.1")),
            Ok(())
        );
        let e = credentials_fit(&c, Some(b"bob"), Some(b"sip:10.0.0.1")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "user \"alice\" not allowed for AOR user \"bob\""
        );
        let e = credentials_fit(&c, Some(b"alice"), Some(b"sip:10.0.0.2")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "digest uri \"sip:10.0.0.1:5060\" differs from Request-URI \"sip:10.0.0.2\""
        );
    }

    #[test]
    fn constant_time_eq_compares_everything() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
