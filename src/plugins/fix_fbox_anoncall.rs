//! plugin_fix_fbox_anoncall (behaviour §8.2): a Fritzbox answering an anonymous call puts
//! another user into its Contact than the one it registered, so the proxy's Contact
//! masquerading finds no registration for it. For outgoing messages from
//! `plugin_fix_fbox_anoncall_networks`, the first Contact is compared with the unexpired
//! bindings of the same host: a binding with the same user means all is well; otherwise the
//! user of the only binding with the same `uniq=` parameter, or else of the first binding
//! whose user is the To user, replaces the Contact's user. Runs at the fix stage.

use super::{BuildError, Ctx, Plugin};
use crate::acl::AclList;
use crate::config::Config;
use crate::proxy::Direction;
use crate::registry::Registry;
use crate::sip::{Contact, Editor, Uri};

#[derive(Debug)]
pub struct FixFboxAnoncall {
    networks: AclList,
}

pub fn build(cfg: &Config) -> Result<Box<dyn Plugin>, BuildError> {
    let networks = cfg
        .plugins
        .plugin_fix_fbox_anoncall_networks
        .clone()
        .unwrap_or_default();
    Ok(Box::new(FixFboxAnoncall { networks }))
}

/// The value of the `uniq` parameter in a registry URI's parameter text.
fn uniq_param(params: &str) -> Option<&str> {
    let params = params.split('?').next().unwrap_or_default();
    params.split(';').find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("uniq")
            .then(|| value.trim())
    })
}

/// The user the Contact `uri` should carry, if it is not its own.
fn better_user<'r>(
    registry: &'r Registry,
    now_s: u64,
    uri: &Uri<'_>,
    to_user: Option<&[u8]>,
) -> Option<&'r str> {
    let host = std::str::from_utf8(uri.host_raw).ok()?;
    let host = crate::sip::unbracket(host);
    let same_host = || {
        registry
            .iter()
            .flat_map(|(_, e)| e.bindings())
            .filter(move |b| b.is_unexpired(now_s) && b.true_url.host().eq_ignore_ascii_case(host))
    };
    let user = uri.user.unwrap_or_default();
    if same_host().any(|b| b.true_url.user().unwrap_or_default().as_bytes() == user) {
        return None;
    }
    if let Some(Some(uniq)) = uri.param("uniq") {
        let mut hits = same_host()
            .filter(|b| uniq_param(b.true_url.params()).is_some_and(|u| u.as_bytes() == uniq));
        if let (Some(b), None) = (hits.next(), hits.next()) {
            return b.true_url.user();
        }
    }
    let to_user = to_user?;
    same_host()
        .filter_map(|b| b.true_url.user())
        .find(|u| u.as_bytes() == to_user)
}

impl Plugin for FixFboxAnoncall {
    fn name(&self) -> &'static str {
        "fix_fbox_anoncall"
    }

    fn fixes(&self) -> bool {
        true
    }

    fn fix_wants_direction(&self) -> bool {
        true
    }

    fn fix(&mut self, ctx: &Ctx<'_, '_>, out: &mut Vec<u8>) -> bool {
        if ctx.direction != Some(Direction::Outgoing)
            || !self.networks.contains(ctx.origin.src.ip())
        {
            return false;
        }
        let Some(Ok(Contact::Addr(na))) = ctx.msg.contacts().next() else {
            return false;
        };
        let Some(old) = na.uri.user else {
            return false;
        };
        let to = ctx.msg.to().ok();
        let to_user = to.as_ref().and_then(|t| t.uri.user);
        let Some(user) = better_user(ctx.registry, ctx.now / 1000, &na.uri, to_user) else {
            return false;
        };
        log::debug!(
            "plugin_fix_fbox_anoncall: Contact user {} becomes {user}",
            crate::logging::Lossy(old)
        );
        let mut ed = Editor::new(ctx.msg);
        if ed.replace(old, user.as_bytes()).is_err() {
            return false;
        }
        out.clear();
        ed.emit_vec(out).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::tests::with_ctx_full;
    use crate::registry::{ContactBinding, Masking, Mode};

    fn registry(contacts: &[(&str, &str)]) -> Registry {
        let mut reg = Registry::new(8);
        for (aor, contact) in contacts {
            let to = crate::registry::Uri::parse(aor).unwrap();
            let c = ContactBinding {
                uri: crate::registry::Uri::parse(contact).unwrap(),
                expires: 3600,
            };
            reg.register(
                0,
                Mode::Registrar,
                &Masking::default(),
                &to,
                "192.168.178.1:5060".parse().unwrap(),
                &[c],
            )
            .unwrap();
        }
        reg
    }

    const OK: &str = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.168.1.1:5060;branch=z9hG4bKs1\r\nVia: SIP/2.0/UDP 198.51.100.30:5060;branch=z9hG4bKb1\r\nFrom: <sip:anonymous@anonymous.invalid>;tag=1\r\nTo: <sip:620@example.com>;tag=2\r\nCall-ID: c1@h\r\nCSeq: 1 INVITE\r\nContact: <sip:0301234@192.168.178.1:5060;uniq=F00>\r\nContent-Length: 0\r\n\r\n";

    fn fix(reg: &Registry, text: &str, src: &str, dir: Option<Direction>) -> Option<String> {
        let mut cfg = Config::default();
        cfg.plugins.plugin_fix_fbox_anoncall_networks =
            Some(AclList::parse("192.168.178.0/24").unwrap());
        let mut p = build(&cfg).unwrap();
        let mut out = Vec::new();
        let mut fixed = false;
        with_ctx_full(text, src, "192.168.1.1:5060", dir, reg, |ctx| {
            fixed = p.fix(ctx, &mut out)
        });
        fixed.then(|| String::from_utf8(out).unwrap())
    }

    const FBOX: &str = "192.168.178.1:5060";

    #[test]
    fn the_only_binding_with_the_same_uniq_gives_its_user() {
        let reg = registry(&[
            ("sip:620@example.com", "sip:620@192.168.178.1:5060;uniq=F00"),
            ("sip:621@example.com", "sip:621@192.168.178.1:5060;uniq=BAA"),
        ]);
        let out = fix(
            &reg,
            &OK.replace("To: <sip:620", "To: <sip:999"),
            FBOX,
            Some(Direction::Outgoing),
        )
        .unwrap();
        assert_eq!(
            out,
            OK.replace("To: <sip:620", "To: <sip:999")
                .replace("sip:0301234@", "sip:620@")
        );
    }

    #[test]
    fn without_a_unique_uniq_the_to_user_decides() {
        let reg = registry(&[
            ("sip:621@example.com", "sip:621@192.168.178.1:5060;uniq=F00"),
            ("sip:620@example.com", "sip:620@192.168.178.1:5060;uniq=F00"),
        ]);
        let out = fix(&reg, OK, FBOX, Some(Direction::Outgoing)).unwrap();
        assert!(
            out.contains("Contact: <sip:620@192.168.178.1:5060;uniq=F00>"),
            "{out}"
        );
        // Neither: left alone.
        assert_eq!(
            fix(
                &reg,
                &OK.replace("To: <sip:620", "To: <sip:999"),
                FBOX,
                Some(Direction::Outgoing)
            ),
            None
        );
    }

    #[test]
    fn a_registered_user_another_host_direction_or_source_is_left_alone() {
        let reg = registry(&[("sip:620@example.com", "sip:620@192.168.178.1:5060;uniq=F00")]);
        let own = OK.replace("sip:0301234@", "sip:620@");
        assert_eq!(fix(&reg, &own, FBOX, Some(Direction::Outgoing)), None);
        let other_host = OK.replace("@192.168.178.1:5060;uniq", "@192.168.178.2:5060;uniq");
        assert_eq!(
            fix(&reg, &other_host, FBOX, Some(Direction::Outgoing)),
            None
        );
        assert_eq!(fix(&reg, OK, FBOX, Some(Direction::Incoming)), None);
        assert_eq!(
            fix(&reg, OK, "192.168.1.10:5060", Some(Direction::Outgoing)),
            None
        );
    }
}
