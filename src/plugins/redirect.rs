//! What the redirecting plugins (shortdial, prefix, regex) share: the new Contact URI is the
//! To URI with its user (and maybe host) replaced and a marker parameter added, and a request
//! already marked is not redirected again (siproxd's loop prevention).

use crate::limits::PLUGIN_URI_MAX;
use crate::sip::{Message, Uri};

/// Where `part` (a slice of `whole`) starts in `whole`.
fn offset(whole: &[u8], part: &[u8]) -> Option<usize> {
    let off = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (off.checked_add(part.len())? <= whole.len()).then_some(off)
}

/// Appends `s` to `out` unless that makes it longer than [`PLUGIN_URI_MAX`] (the buffer,
/// sized once, never grows).
pub fn push(out: &mut String, s: &str) -> Option<()> {
    (out.len() + s.len() <= PLUGIN_URI_MAX).then(|| out.push_str(s))
}

/// Appends `bytes` as [`push`] does, invalid UTF-8 as U+FFFD (as `String::from_utf8_lossy`).
pub fn push_lossy(out: &mut String, bytes: &[u8]) -> Option<()> {
    for c in bytes.utf8_chunks() {
        push(out, c.valid())?;
        if !c.invalid().is_empty() {
            push(out, "\u{FFFD}")?;
        }
    }
    Some(())
}

/// Writes into `out` (cleared first) `uri` with the user part replaced by `user` (the
/// concatenation of its parts) and, if given, the host by `host` (port, parameters and
/// headers kept). `None` for a URI without a host (tel:, ...) or a result longer than
/// [`PLUGIN_URI_MAX`].
pub fn with_user(
    out: &mut String,
    uri: &Uri<'_>,
    user: &[&[u8]],
    host: Option<&str>,
) -> Option<()> {
    if !uri.is_sip() {
        return None;
    }
    let raw = uri.raw;
    let host_at = offset(raw, uri.host_raw)?;
    let after_host = raw.get(host_at.checked_add(uri.host_raw.len())?..)?;
    out.clear();
    push(out, std::str::from_utf8(uri.scheme_raw).ok()?)?;
    push(out, ":")?;
    if user.iter().any(|u| !u.is_empty()) {
        for u in user {
            push_lossy(out, u)?;
        }
        push(out, "@")?;
    }
    match host {
        Some(h) => push(out, h)?,
        None => push(out, std::str::from_utf8(uri.host_raw).ok()?)?,
    }
    push(out, std::str::from_utf8(after_host).ok()?)
}

/// Adds the URI parameter `param` (e.g. `redirected=prefix`) to `uri` after the existing
/// ones, before any `?headers`; `None` if the result would be longer than [`PLUGIN_URI_MAX`].
pub fn add_param(uri: &mut String, param: &str) -> Option<()> {
    if uri.len() + 1 + param.len() > PLUGIN_URI_MAX {
        return None;
    }
    let at = uri.find('?').unwrap_or(uri.len());
    uri.insert_str(at, param);
    uri.insert(at, ';');
    Some(())
}

/// A buffer for a URI a plugin builds, allocated once at start.
pub fn uri_buffer() -> String {
    String::with_capacity(PLUGIN_URI_MAX)
}

/// Whether the Request-URI or the To URI carries `redirected=<value>` (a request this plugin
/// redirected before: it is left alone so it cannot loop).
pub fn already_redirected(msg: &Message<'_>, value: &str) -> bool {
    let marked = |u: &Uri<'_>| {
        u.param("redirected")
            .flatten()
            .is_some_and(|v| v.eq_ignore_ascii_case(value.as_bytes()))
    };
    let ruri = msg.request_uri_raw().and_then(|r| Uri::parse(r).ok());
    ruri.as_ref().is_some_and(marked) || msg.to().ok().is_some_and(|t| marked(&t.uri))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::plugins::Ctx;
    use crate::registry::{Mode, Registry, Uri as RegUri};

    /// A phone on the LAN, as in the §11 lab.
    pub const PHONE: &str = "192.168.1.10:5060";
    /// A host on the Internet.
    pub const REMOTE: &str = "198.51.100.30:5060";

    /// A registration table where alice@example.com is registered from [`PHONE`].
    pub fn alice_registered() -> Registry {
        let mut r = Registry::new(4);
        let aor = RegUri::parse("sip:alice@example.com").unwrap();
        let contact = crate::registry::ContactBinding {
            uri: RegUri::parse("sip:alice@192.168.1.10:5060").unwrap(),
            expires: 3600,
        };
        let masking = crate::registry::Masking {
            mask_host: &[],
            masked_host: &[],
        };
        r.register(
            0,
            Mode::Registrar,
            &masking,
            &aor,
            PHONE.parse().unwrap(),
            &[contact],
        )
        .unwrap();
        r
    }

    /// Runs `f` with a context for `method` to `ruri`, To `to`, sent from `src` to the proxy's
    /// LAN address (192.168.1.1) or, with `lan` false, its WAN address (203.0.113.5).
    pub fn ctx<R>(
        method: &str,
        ruri: &str,
        to: &str,
        src: &str,
        lan: bool,
        registry: &Registry,
        f: impl FnOnce(&Ctx<'_, '_>) -> R,
    ) -> R {
        let text = format!(
            "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {src};branch=z9hG4bKp1\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: {to}\r\nCall-ID: c1@h\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
        );
        let local = if lan {
            "192.168.1.1:5060"
        } else {
            "203.0.113.5:5060"
        };
        crate::plugins::tests::with_ctx_full(&text, src, local, None, registry, f)
    }

    fn user(u: &Uri<'_>, user: &str, host: Option<&str>) -> Option<String> {
        let mut out = uri_buffer();
        with_user(&mut out, u, &[user.as_bytes()], host)?;
        Some(out)
    }

    fn param(uri: &str, p: &str) -> String {
        let mut out = uri_buffer();
        out.push_str(uri);
        add_param(&mut out, p).unwrap();
        out
    }

    #[test]
    fn user_and_host_replaced_port_and_parameters_kept() {
        let u = Uri::parse(b"sip:*01@example.com:5070;user=phone?subject=x").unwrap();
        assert_eq!(
            user(&u, "bob", None).unwrap(),
            "sip:bob@example.com:5070;user=phone?subject=x"
        );
        assert_eq!(
            user(&u, "bob", Some("pbx.lan")).unwrap(),
            "sip:bob@pbx.lan:5070;user=phone?subject=x"
        );
        let u = Uri::parse(b"sip:example.com").unwrap();
        assert_eq!(user(&u, "100", None).unwrap(), "sip:100@example.com");
        let u = Uri::parse(b"tel:+4930").unwrap();
        assert_eq!(user(&u, "100", None), None);
        // Parts are joined; invalid UTF-8 shows as U+FFFD.
        let u = Uri::parse(b"sip:x@h").unwrap();
        let mut out = uri_buffer();
        with_user(&mut out, &u, &[b"0", b"3\xff"], None).unwrap();
        assert_eq!(out, "sip:03\u{FFFD}@h");
    }

    #[test]
    fn a_result_longer_than_the_bound_is_refused_and_the_buffer_never_grows() {
        // "sip:22@h;p=" and the parameter's value: exactly the bound.
        let long = format!("sip:1@h;p={}", "x".repeat(PLUGIN_URI_MAX - 11));
        let u = Uri::parse(long.as_bytes()).unwrap();
        let mut out = uri_buffer();
        let cap = out.capacity();
        assert_eq!(with_user(&mut out, &u, &[b"333"], None), None);
        assert!(with_user(&mut out, &u, &[b"22"], None).is_some());
        assert_eq!(out.len(), PLUGIN_URI_MAX);
        assert_eq!(add_param(&mut out, "x"), None);
        assert_eq!(out.capacity(), cap);
    }

    #[test]
    fn the_marker_goes_before_uri_headers() {
        assert_eq!(param("sip:a@h", "redirected=x"), "sip:a@h;redirected=x");
        assert_eq!(
            param("sip:a@h;p=1?s=2", "redirected=x"),
            "sip:a@h;p=1;redirected=x?s=2"
        );
    }

    #[test]
    fn a_marked_request_uri_or_to_is_recognised() {
        let r = Registry::new(1);
        ctx(
            "INVITE",
            "sip:0123@h;redirected=prefix",
            "<sip:0123@h>",
            PHONE,
            true,
            &r,
            |c| {
                assert!(already_redirected(c.msg, "prefix"));
                assert!(!already_redirected(c.msg, "regex"));
            },
        );
        ctx(
            "INVITE",
            "sip:0123@h",
            "<sip:0123@h;redirected=REGEX>",
            PHONE,
            true,
            &r,
            |c| assert!(already_redirected(c.msg, "regex")),
        );
        ctx(
            "INVITE",
            "sip:0123@h",
            "<sip:0123@h>",
            PHONE,
            true,
            &r,
            |c| assert!(!already_redirected(c.msg, "prefix")),
        );
    }

    #[test]
    fn from_lan_phone_needs_the_lan_address_and_a_registered_source() {
        let reg = alice_registered();
        let empty = Registry::new(1);
        ctx("INVITE", "sip:b@h", "<sip:b@h>", PHONE, true, &reg, |c| {
            assert!(c.from_lan_phone())
        });
        ctx("INVITE", "sip:b@h", "<sip:b@h>", PHONE, false, &reg, |c| {
            assert!(!c.from_lan_phone(), "arrived on the WAN address")
        });
        ctx("INVITE", "sip:b@h", "<sip:b@h>", PHONE, true, &empty, |c| {
            assert!(!c.from_lan_phone(), "not registered")
        });
        ctx(
            "INVITE",
            "sip:b@h",
            "<sip:b@h>",
            "127.0.0.1:5062",
            false,
            &empty,
            |c| assert!(c.from_lan_phone(), "this host"),
        );
    }
}
