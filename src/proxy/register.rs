//! REGISTER handling (behaviour §4.6 with decisions §4 and §5): registrar mode when the
//! REGISTER is addressed to the proxy itself, outbound-proxy mode otherwise.

use super::direction::reg_uri;
use super::{DropReason, Media, Origin, Proxy};
use crate::auth::{self, Verdict};
use crate::logging::{Quoted, REG};
use crate::registry::{ContactBinding, Masking, Mode, RegistryError, PROVISIONAL_SECS};
use crate::sip::{Contact, HeaderName, Message, NameAddr, Scheme, Status, Uri};

/// The Contacts of a REGISTER.
enum Contacts {
    /// No Contact header: a query.
    None,
    /// `Contact: *` (valid only alone and with `Expires: 0`, RFC 3261 §10.3 step 6).
    Star { valid: bool },
    /// The bindings with their lifetimes; `explicit` is false when no expiry was given at all.
    List {
        bindings: Vec<ContactBinding>,
        explicit: bool,
    },
}

impl Proxy {
    fn contacts_of(&self, msg: &Message<'_>) -> Result<Contacts, &'static str> {
        // An unreadable expiry is refused rather than guessed (siproxd reads it as 0).
        let header_expires = msg.expires().map_err(|_| "Bad Expires")?;
        let mut bindings = Vec::new();
        let mut explicit = header_expires.is_some();
        let mut star = false;
        for c in msg.contacts() {
            match c {
                Ok(Contact::Star) => star = true,
                Ok(Contact::Addr(na)) => {
                    let param = Contact::Addr(na)
                        .expires()
                        .map_err(|_| "Bad Contact expires")?;
                    explicit |= param.is_some();
                    let expires = param
                        .or(header_expires)
                        .unwrap_or(self.settings.default_expires);
                    let uri = reg_uri(&na.uri).ok_or("Contact URI cannot be stored")?;
                    bindings.push(ContactBinding { uri, expires });
                }
                Err(_) => return Err("Contact does not parse"),
            }
        }
        Ok(match (star, bindings.is_empty()) {
            (true, alone) => Contacts::Star {
                valid: alone && header_expires == Some(0),
            },
            (false, true) => Contacts::None,
            (false, false) => Contacts::List { bindings, explicit },
        })
    }

    /// A malformed REGISTER: answered 400 with the reason, and counted.
    fn bad_register(&mut self, origin: &Origin, msg: &Message<'_>, reason: &'static str) {
        self.counters.count(DropReason::Invalid);
        self.respond(origin, msg, Status::bad_request(reason), &[]);
    }

    /// Registrar mode when the Request-URI names this proxy on its listen port (§4.1 step 12).
    fn is_registrar_request(&self, msg: &Message<'_>) -> bool {
        msg.request_uri_raw()
            .and_then(|r| Uri::parse(r).ok())
            .is_some_and(|u| self.own().is_own_hostport(u.host_raw, u.port))
    }

    pub(super) fn on_register(
        &mut self,
        now: u64,
        origin: &Origin,
        msg: &Message<'_>,
        media: &mut dyn Media,
    ) {
        let scheme = msg
            .request_uri_raw()
            .and_then(|r| Uri::parse(r).ok())
            .map(|u| u.scheme);
        if scheme != Some(Scheme::Sip) {
            // Checked before anything is registered: sips needs TLS, tel a gateway.
            self.counters.count(DropReason::Invalid);
            self.respond(origin, msg, Status::UNSUPPORTED_URI_SCHEME, &[]);
            return;
        }
        if self.is_registrar_request(msg) {
            self.register_here(now, origin, msg);
        } else {
            self.register_proxied(now, origin, msg, media);
        }
    }

    fn to_uri(msg: &Message<'_>) -> Option<crate::registry::Uri> {
        msg.to().ok().and_then(|t| reg_uri(&t.uri))
    }

    /// Proxy authentication of a REGISTER addressed to us (when configured): `true` when it
    /// may be stored; otherwise it has been answered (400, 403 or the 407 challenge).
    fn authorize_register(&mut self, now: u64, origin: &Origin, msg: &Message<'_>) -> bool {
        if let Some(a) = &self.auth {
            let challenge_stale = match msg.first(HeaderName::ProxyAuthorization) {
                None => Some(false),
                Some(h) => match auth::Credentials::parse(h.value) {
                    Err(e) => {
                        log::info!("REGISTER from {}: {e}", origin.src);
                        self.bad_register(origin, msg, "Bad Proxy-Authorization");
                        return false;
                    }
                    Ok(c) => match a.verify(now / 1000, "REGISTER", &c, origin.src.ip()) {
                        Verdict::Accepted => {
                            // The credentials are someone's: they must also be for this AOR
                            // and this request, or one user could bind another user's address.
                            let aor_user = msg.to().ok().and_then(|t| t.uri.user);
                            match auth::credentials_fit(&c, aor_user, msg.request_uri_raw()) {
                                Ok(()) => None,
                                Err(why) => {
                                    log::warn!("REGISTER from {} refused: {why}", origin.src);
                                    self.blacklist_fail(now, origin.src.ip());
                                    self.respond(origin, msg, Status::FORBIDDEN, &[]);
                                    return false;
                                }
                            }
                        }
                        Verdict::Stale => {
                            log::info!(
                                "REGISTER from {}: nonce of user {} is stale or from before a restart, challenged again",
                                origin.src,
                                Quoted(c.username.unwrap_or(""))
                            );
                            Some(true)
                        }
                        Verdict::Rejected(why) => {
                            log::warn!(
                                "REGISTER from {} refused for user {} (realm {}): {why}",
                                origin.src,
                                Quoted(c.username.unwrap_or("")),
                                Quoted(c.realm.unwrap_or(""))
                            );
                            self.blacklist_fail(now, origin.src.ip());
                            self.respond(origin, msg, Status::FORBIDDEN, &[]);
                            return false;
                        }
                        Verdict::Malformed(why) => {
                            log::info!("REGISTER from {}: {why}", origin.src);
                            self.bad_register(origin, msg, "Bad Proxy-Authorization");
                            return false;
                        }
                    },
                },
            };
            if let Some(stale) = challenge_stale {
                let challenges = a.challenges(now / 1000, stale, origin.src.ip());
                let extra: Vec<(&str, &str)> = challenges
                    .iter()
                    .map(|c| ("Proxy-Authenticate", c.as_str()))
                    .collect();
                self.respond(origin, msg, Status::PROXY_AUTHENTICATION_REQUIRED, &extra);
                return false;
            }
        }
        true
    }

    /// siproxd-rs is the registrar: authenticate, store, answer exactly once.
    fn register_here(&mut self, now: u64, origin: &Origin, msg: &Message<'_>) {
        if !self.authorize_register(now, origin, msg) {
            return;
        }
        let Some(to) = Self::to_uri(msg) else {
            self.bad_register(origin, msg, "Bad To");
            return;
        };
        let now_s = now / 1000;
        let contacts = match self.contacts_of(msg) {
            Ok(c) => c,
            Err(why) => {
                self.bad_register(origin, msg, why);
                return;
            }
        };
        // siproxd echoes the request's Expires header, which it added when no expiry was
        // given at all; a Contact's own expires parameter is answered in the Contact only.
        let expires = match (&contacts, msg.expires().ok().flatten()) {
            (_, Some(e)) => Some(e),
            (
                Contacts::List {
                    explicit: false, ..
                },
                None,
            ) => Some(self.settings.default_expires),
            _ => None,
        };
        let Some(slot) = self.store_here(now_s, origin, msg, &to, contacts) else {
            return;
        };
        if let Some(b) = self.blacklist.as_mut() {
            b.success(origin.src.ip());
        }
        match slot {
            Some(_) => log::info!("registered {to} from {} (registrar mode)", origin.src),
            None => log::info!("{to} has no bindings (REGISTER from {})", origin.src),
        }
        self.answer_bindings(now_s, origin, msg, slot, expires);
    }

    /// Registrar mode: applies the REGISTER's Contacts to the table. `Some(slot)` of the AOR
    /// (`Some(None)`: no bindings left), or `None` when the REGISTER was answered with an error.
    fn store_here(
        &mut self,
        now_s: u64,
        origin: &Origin,
        msg: &Message<'_>,
        to: &crate::registry::Uri,
        contacts: Contacts,
    ) -> Option<Option<usize>> {
        let slot = match contacts {
            Contacts::None => self.registry.find_by_url(
                now_s,
                to,
                crate::registry::UrlField::Reg,
                crate::registry::Want::Live,
            ),
            Contacts::Star { valid: false } => {
                self.bad_register(origin, msg, "Invalid Wildcard Contact");
                return None;
            }
            Contacts::Star { valid: true } => {
                self.registry.unregister_all(now_s, Mode::Registrar, to);
                None
            }
            Contacts::List { bindings, .. } => {
                let masking = Masking {
                    mask_host: &self.settings.mask_host,
                    masked_host: &self.settings.masked_host,
                };
                match self.registry.register(
                    now_s,
                    Mode::Registrar,
                    &masking,
                    to,
                    origin.src,
                    &bindings,
                ) {
                    Ok(slot) => slot,
                    Err(RegistryError::Full) => {
                        self.counters.count(DropReason::RegistrationTableFull);
                        log::warn!(
                            "registration table full ({} slots): {to} refused",
                            self.registry.capacity()
                        );
                        self.respond(origin, msg, Status::REGISTRATION_TABLE_FULL, &[]);
                        return None;
                    }
                    Err(e) => {
                        log::warn!("REGISTER of {to}: {e}");
                        self.respond(origin, msg, Status::SERVICE_UNAVAILABLE, &[]);
                        return None;
                    }
                }
            }
        };
        Some(slot)
    }

    /// The registrar's 200: the AOR's current bindings with their remaining lifetimes.
    fn answer_bindings(
        &mut self,
        now_s: u64,
        origin: &Origin,
        msg: &Message<'_>,
        slot: Option<usize>,
        expires: Option<u32>,
    ) {
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
        let expires = expires.map(|e| e.to_string());
        let mut extra: Vec<(&str, &str)> = lines.iter().map(|l| ("Contact", l.as_str())).collect();
        if let Some(e) = &expires {
            extra.push(("Expires", e.as_str()));
        }
        self.respond(origin, msg, Status::OK, &extra);
    }

    /// Outbound-proxy mode: note the phone (provisionally) and forward to its registrar.
    fn register_proxied(
        &mut self,
        now: u64,
        origin: &Origin,
        msg: &Message<'_>,
        media: &mut dyn Media,
    ) {
        if let Some(b) = self.blacklist.as_mut() {
            let credentials = msg.first(HeaderName::Authorization).is_some()
                || msg.first(HeaderName::ProxyAuthorization).is_some();
            let cid = msg.call_id().unwrap_or_default();
            b.note_register(now, origin.src.ip(), cid, credentials);
        }
        let Some(to) = Self::to_uri(msg) else {
            self.drop_msg(DropReason::Invalid, origin, "REGISTER with an unusable To");
            return;
        };
        let peer = self.register_peer(now, msg);
        let Some(public) = self.public_host_for(peer) else {
            self.counters.count(DropReason::OutboundDown);
            self.respond(origin, msg, Status::REQUEST_TIMEOUT, &[]);
            return;
        };
        let now_s = now / 1000;
        let mode = Mode::OutboundProxy {
            outbound_host: &public,
            listen_port: self.settings.listen_port,
        };
        let contacts = match self.contacts_of(msg) {
            Ok(c) => c,
            Err(why) => {
                self.bad_register(origin, msg, why);
                return;
            }
        };
        let known = self.registry.find_by_source_ip(origin.src.ip()).is_some();
        match contacts {
            Contacts::None | Contacts::Star { .. } if !known => {
                // A query or wildcard from a phone we do not know: answered here (§4.6 step 2).
                self.respond(origin, msg, Status::OK, &[]);
            }
            Contacts::None => self.forward_request(now, origin, msg, None, media),
            Contacts::Star { valid } => {
                // An invalid wildcard is the registrar's to refuse; it removes nothing here.
                if valid {
                    self.registry.unregister_all(now_s, mode, &to);
                }
                self.forward_request(now, origin, msg, None, media);
            }
            Contacts::List { bindings, explicit } => {
                let masking = Masking {
                    mask_host: &self.settings.mask_host,
                    masked_host: &self.settings.masked_host,
                };
                match self
                    .registry
                    .register(now_s, mode, &masking, &to, origin.src, &bindings)
                {
                    Ok(_) => {
                        log::debug!(target: REG, "REGISTER of {to} from {} forwarded", origin.src);
                        let add = (!explicit).then_some(self.settings.default_expires);
                        self.forward_request(now, origin, msg, add, media);
                    }
                    Err(RegistryError::Full) => {
                        // decisions §3: a full table is answered 503 in both modes (siproxd
                        // stays silent in outbound-proxy mode and the phone times out).
                        self.counters.count(DropReason::RegistrationTableFull);
                        log::warn!(
                            "registration table full ({} slots): REGISTER of {to} from {} refused",
                            self.registry.capacity(),
                            origin.src
                        );
                        self.respond(origin, msg, Status::REGISTRATION_TABLE_FULL, &[]);
                    }
                    Err(e) => self.drop_msg(
                        DropReason::Invalid,
                        origin,
                        &format!("REGISTER of {to}: {e}"),
                    ),
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
                // A 2xx that grants no lifetime keeps what a live binding had left, else
                // confirms it for siproxd's provisional time only (behaviour §4.6: it then
                // vanishes after ~10 s).
                let left = self
                    .registry
                    .live_bindings(now_s, slot)
                    .map(|b| b.expires.saturating_sub(now_s))
                    .max()
                    .unwrap_or(0)
                    .max(PROVISIONAL_SECS);
                let l = lifetime.unwrap_or(u32::try_from(left).unwrap_or(u32::MAX));
                if let Err(e) = self.registry.confirm(now_s, slot, &uri, l) {
                    log::debug!(target: REG, "confirm: {e}");
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
