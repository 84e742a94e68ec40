//! What the redirecting plugins (shortdial, prefix, regex) share: the new Contact URI is the
//! To URI with its user (and maybe host) replaced and a marker parameter added, and a request
//! already marked is not redirected again (siproxd's loop prevention).

use crate::sip::{Message, Uri};

/// Where `part` (a slice of `whole`) starts in `whole`.
fn offset(whole: &[u8], part: &[u8]) -> Option<usize> {
    let off = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (off.checked_add(part.len())? <= whole.len()).then_some(off)
}

/// `uri` with the user part replaced by `user` and, if given, the host by `host` (port,
/// parameters and headers kept). `None` for a URI without a host (tel:, ...).
pub fn with_user(uri: &Uri<'_>, user: &str, host: Option<&str>) -> Option<String> {
    if !uri.is_sip() {
        return None;
    }
    let raw = uri.raw;
    let host_at = offset(raw, uri.host_raw)?;
    let after_host = raw.get(host_at.checked_add(uri.host_raw.len())?..)?;
    let mut out = String::with_capacity(raw.len() + user.len() + 16);
    out.push_str(std::str::from_utf8(uri.scheme_raw).ok()?);
    out.push(':');
    if !user.is_empty() {
        out.push_str(user);
        out.push('@');
    }
    match host {
        Some(h) => out.push_str(h),
        None => out.push_str(std::str::from_utf8(uri.host_raw).ok()?),
    }
    out.push_str(std::str::from_utf8(after_host).ok()?);
    Some(out)
}

/// `uri` with the URI parameter `param` (e.g. `redirected=prefix`) added after the existing
/// ones, before any `?headers`.
pub fn with_param(uri: &str, param: &str) -> String {
    let (base, headers) = match uri.find('?') {
        Some(q) => uri.split_at(q),
        None => (uri, ""),
    };
    format!("{base};{param}{headers}")
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
    pub fn ctx(
        method: &str,
        ruri: &str,
        to: &str,
        src: &str,
        lan: bool,
        registry: &Registry,
        f: impl FnOnce(&Ctx<'_, '_>),
    ) {
        let text = format!(
            "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {src};branch=z9hG4bKp1\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: {to}\r\nCall-ID: c1@h\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
        );
        let local = if lan {
            "192.168.1.1:5060"
        } else {
            "203.0.113.5:5060"
        };
        crate::plugins::tests::with_ctx_full(&text, src, local, None, registry, f);
    }

    #[test]
    fn user_and_host_replaced_port_and_parameters_kept() {
        let u = Uri::parse(b"sip:*01@example.com:5070;user=phone?subject=x").unwrap();
        assert_eq!(
            with_user(&u, "bob", None).unwrap(),
            "sip:bob@example.com:5070;user=phone?subject=x"
        );
        assert_eq!(
            with_user(&u, "bob", Some("pbx.lan")).unwrap(),
            "sip:bob@pbx.lan:5070;user=phone?subject=x"
        );
        let u = Uri::parse(b"sip:example.com").unwrap();
        assert_eq!(with_user(&u, "100", None).unwrap(), "sip:100@example.com");
        let u = Uri::parse(b"tel:+4930").unwrap();
        assert_eq!(with_user(&u, "100", None), None);
    }

    #[test]
    fn the_marker_goes_before_uri_headers() {
        assert_eq!(
            with_param("sip:a@h", "redirected=x"),
            "sip:a@h;redirected=x"
        );
        assert_eq!(
            with_param("sip:a@h;p=1?s=2", "redirected=x"),
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
