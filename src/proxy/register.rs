//! REGISTER handling (behaviour §4.6 with decisions §4 and §5): registrar mode when the
//! REGISTER is addressed to the proxy itself, outbound-proxy mode otherwise.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use super::direction::reg_uri;
use super::{Drop, Media, Origin, Proxy};
use crate::auth::{self, Verdict};
use crate::logging::REG;
use crate::registry::{ContactBinding, Masking, Mode, RegistryError};
use crate::sip::{Contact, HeaderName, Message, NameAddr, Uri};

/// The Contacts of a REGISTER.
enum Contacts {
    /// No Contact header: a query.
    None,
    /// `Contact: *` (only meaningful with `Expires: 0`).
    Star,
    /// The bindings with their lifetimes; `explicit` is false when no expiry was given at all.
    List {
        bindings: Vec<ContactBinding>,
        explicit: bool,
    },
}

impl Proxy {
    fn contacts_of(&self, msg: &Message<'_>) -> Result<Contacts, &'static str> {
        let header_expires = msg.expires().ok().flatten();
        let mut bindings = Vec::new();
        let mut explicit = header_expires.is_some();
        let mut star = false;
        for c in msg.contacts() {
            match c {
                Ok(Contact::Star) => star = true,
                Ok(Contact::Addr(na)) => {
                    let param = Contact::Addr(na).expires().ok().flatten();
                    explicit |= param.is_some();
                    let expires = param.or(header_expires).unwrap_or(self.cfg.default_expires);
                    let uri = reg_uri(&na.uri).ok_or("Contact URI cannot be stored")?;
                    bindings.push(ContactBinding { uri, expires });
                }
                Err(_) => return Err("Contact does not parse"),
            }
        }
        Ok(match (star, bindings.is_empty()) {
            (true, _) => Contacts::Star,
            (false, true) => Contacts::None,
            (false, false) => Contacts::List { bindings, explicit },
        })
    }

    /// Registrar mode when the Request-URI names this proxy on its listen port (§4.1 step 12).
    fn is_registrar_request(&self, msg: &Message<'_>) -> bool {
        msg.request_uri_raw()
            .and_then(|r| Uri::parse(r).ok())
            .is_some_and(|u| self.is_own_hostport(u.host_raw, u.port))
    }

    pub(super) fn on_register(
        &mut self,
        now: u64,
        origin: &Origin,
        msg: &Message<'_>,
        media: &mut dyn Media,
    ) {
        if self.is_registrar_request(msg) {
            self.register_here(now, origin, msg);
        } else {
            self.register_proxied(now, origin, msg, media);
        }
    }

    fn to_uri(msg: &Message<'_>) -> Option<crate::registry::Uri> {
        msg.to().ok().and_then(|t| reg_uri(&t.uri))
    }

    /// siproxd-rs is the registrar: authenticate, store, answer exactly once.
    fn register_here(&mut self, now: u64, origin: &Origin, msg: &Message<'_>) {
        if let Some(a) = &self.auth {
            let challenge_stale = match msg.first(HeaderName::ProxyAuthorization) {
                None => Some(false),
                Some(h) => match auth::Credentials::parse(h.value) {
                    Err(e) => {
                        log::info!("REGISTER from {}: {e}", origin.src);
                        self.respond(origin, msg, 400, "Bad Proxy-Authorization", &[]);
                        return;
                    }
                    Ok(c) => match a.verify(now / 1000, "REGISTER", &c) {
                        Verdict::Accepted => None,
                        Verdict::Stale => Some(true),
                        Verdict::Rejected(why) => {
                            log::warn!("REGISTER from {} refused: {why}", origin.src);
                            self.respond(origin, msg, 403, "Forbidden", &[]);
                            return;
                        }
                        Verdict::Malformed(why) => {
                            log::info!("REGISTER from {}: {why}", origin.src);
                            self.respond(origin, msg, 400, "Bad Proxy-Authorization", &[]);
                            return;
                        }
                    },
                },
            };
            if let Some(stale) = challenge_stale {
                let challenges = a.challenges(now / 1000, stale);
                let extra: Vec<(&str, &str)> = challenges
                    .iter()
                    .map(|c| ("Proxy-Authenticate", c.as_str()))
                    .collect();
                self.respond(origin, msg, 407, "Proxy Authentication Required", &extra);
                return;
            }
        }
        let Some(to) = Self::to_uri(msg) else {
            self.respond(origin, msg, 400, "Bad To", &[]);
            return;
        };
        let now_s = now / 1000;
        let contacts = match self.contacts_of(msg) {
            Ok(c) => c,
            Err(why) => {
                self.respond(origin, msg, 400, why, &[]);
                return;
            }
        };
        let slot = match contacts {
            Contacts::None => self.registry.find_by_url(
                now_s,
                &to,
                crate::registry::UrlField::Reg,
                crate::registry::Want::Live,
            ),
            Contacts::Star => {
                self.registry.unregister_all(now_s, Mode::Registrar, &to);
                None
            }
            Contacts::List { bindings, .. } => {
                let masking = Masking {
                    mask_host: &self.cfg.mask_host,
                    masked_host: &self.cfg.masked_host,
                };
                match self.registry.register(
                    now_s,
                    Mode::Registrar,
                    &masking,
                    &to,
                    origin.src,
                    &bindings,
                ) {
                    Ok(slot) => slot,
                    Err(RegistryError::Full) => {
                        self.counters.drop(Drop::RegistrationTableFull);
                        log::warn!(
                            "registration table full ({} slots): {to} refused",
                            self.registry.capacity()
                        );
                        self.respond(origin, msg, 503, "Registration Table Full", &[]);
                        return;
                    }
                    Err(e) => {
                        log::warn!("REGISTER of {to}: {e}");
                        self.respond(origin, msg, 503, "Service Unavailable", &[]);
                        return;
                    }
                }
            }
        };
        log::info!("registered {to} from {} (registrar mode)", origin.src);
        // The 200 lists the AOR's current bindings with their remaining lifetimes.
        let mut lines: Vec<String> = Vec::new();
        if let Some(slot) = slot {
            for b in self.registry.live_bindings(now_s, slot) {
                lines.push(format!(
                    "<{}>;expires={}",
                    b.true_url,
                    b.expires.saturating_sub(now_s)
                ));
            }
        }
        let expires = msg
            .expires()
            .ok()
            .flatten()
            .unwrap_or(self.cfg.default_expires)
            .to_string();
        let mut extra: Vec<(&str, &str)> = lines.iter().map(|l| ("Contact", l.as_str())).collect();
        extra.push(("Expires", expires.as_str()));
        self.respond(origin, msg, 200, "OK", &extra);
    }

    /// Outbound-proxy mode: note the phone (provisionally) and forward to its registrar.
    fn register_proxied(
        &mut self,
        now: u64,
        origin: &Origin,
        msg: &Message<'_>,
        media: &mut dyn Media,
    ) {
        let Some(to) = Self::to_uri(msg) else {
            self.drop_msg(Drop::Invalid, origin, "REGISTER with an unusable To");
            return;
        };
        let Some(public) = self.public_host() else {
            self.counters.drop(Drop::OutboundDown);
            self.respond(origin, msg, 408, "Request Timeout", &[]);
            return;
        };
        let now_s = now / 1000;
        let mode = Mode::OutboundProxy {
            outbound_host: &public,
            listen_port: self.cfg.sip_listen_port,
        };
        let contacts = match self.contacts_of(msg) {
            Ok(c) => c,
            Err(why) => {
                self.respond(origin, msg, 400, why, &[]);
                return;
            }
        };
        let known = self.registry.find_by_source_ip(origin.src.ip()).is_some();
        match contacts {
            Contacts::None | Contacts::Star if !known => {
                // A query or wildcard from a phone we do not know: answered here (§4.6 step 2).
                self.respond(origin, msg, 200, "OK", &[]);
            }
            Contacts::None => self.forward_request(now, origin, msg, None, media),
            Contacts::Star => {
                if msg.expires().ok().flatten() == Some(0) {
                    self.registry.unregister_all(now_s, mode, &to);
                }
                self.forward_request(now, origin, msg, None, media);
            }
            Contacts::List { bindings, explicit } => {
                let masking = Masking {
                    mask_host: &self.cfg.mask_host,
                    masked_host: &self.cfg.masked_host,
                };
                match self
                    .registry
                    .register(now_s, mode, &masking, &to, origin.src, &bindings)
                {
                    Ok(_) => {
                        log::debug!(target: REG, "REGISTER of {to} from {} forwarded", origin.src);
                        let add = (!explicit).then_some(self.cfg.default_expires);
                        self.forward_request(now, origin, msg, add, media);
                    }
                    Err(RegistryError::Full) => {
                        self.counters.drop(Drop::RegistrationTableFull);
                        log::warn!(
                            "registration table full ({} slots): REGISTER of {to} from {} dropped",
                            self.registry.capacity(),
                            origin.src
                        );
                    }
                    Err(e) => {
                        self.drop_msg(Drop::Invalid, origin, &format!("REGISTER of {to}: {e}"))
                    }
                }
            }
        }
    }

    /// The registrar's answer to a proxied REGISTER of `slot`: a 2xx confirms the bindings
    /// with the lifetimes it grants; the Contacts to rewrite (masq → the phone's) are returned.
    pub(super) fn register_response<'a>(
        &mut self,
        now: u64,
        msg: &Message<'a>,
        slot: usize,
        code: u16,
    ) -> Vec<(NameAddr<'a>, String)> {
        let now_s = now / 1000;
        let header_expires = msg.expires().ok().flatten();
        let mut rewrites = Vec::new();
        let mut carried: Option<u32> = None;
        for c in msg.contacts() {
            let Ok(Contact::Addr(na)) = c else { continue };
            let lifetime = Contact::Addr(na)
                .expires()
                .ok()
                .flatten()
                .or(header_expires)
                .or(carried);
            carried = lifetime;
            let Some(uri) = reg_uri(&na.uri) else {
                continue;
            };
            if (200..300).contains(&code) {
                if let Some(l) = lifetime {
                    if let Err(e) = self.registry.confirm(now_s, slot, &uri, l) {
                        log::debug!(target: REG, "confirm: {e}");
                    }
                }
            }
            let Some(entry) = self.registry.entry(slot) else {
                continue;
            };
            if entry.masq_url().same_url(&uri) {
                let phone = entry
                    .bindings()
                    .iter()
                    .max_by_key(|b| b.updated)
                    .map(|b| b.true_url.to_string());
                if let Some(p) = phone {
                    rewrites.push((na, p));
                }
            }
        }
        rewrites
    }
}
