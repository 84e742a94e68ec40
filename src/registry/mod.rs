//! Registration table (behaviour §4.6 as changed by decisions §4): one slot per
//! address-of-record, each with up to `MAX_CONTACTS_PER_AOR` contact bindings.
//!
//! Sans-IO: time is `now` in seconds from any monotonic clock the caller uses consistently
//! (persistence converts to Unix seconds with a second `unix_now`, so a wall-clock jump
//! after boot does not expire every registration). Slots are allocated once at start.
//!
//! Lifecycle of a binding:
//! * registrar mode (siproxd is the registrar): the REGISTER makes it live at once;
//! * outbound-proxy mode: the REGISTER creates it provisional for [`PROVISIONAL_SECS`], used
//!   only to route the REGISTER response ([`Want::Any`]); the registrar's 2xx makes it live
//!   ([`Registry::confirm`]) with the lifetime the 2xx grants;
//! * after its expiry a binding lingers [`GRACE_SECS`] (still found by source address) and is
//!   then removed by [`Registry::expire`]; a slot without bindings is freed.
//!
//! How the proxy uses it:
//! * REGISTER: [`Registry::register`] (or [`Registry::unregister_all`] for `Contact: *`);
//!   `Err(Full)` → the REGISTER is answered 503 and counted (both modes, decisions §3).
//! * 2xx to a proxied REGISTER: [`Registry::confirm`] once per Contact of the response.
//! * Direction (behaviour §4.5), in order: [`Registry::find_by_source_ip`] (rule 1),
//!   [`Registry::find_by_url`] with the To/From URI and the Request-URI (rules 2, 3),
//!   [`Registry::find_by_user`] (rule 4), [`Registry::find_by_true_hostport`] with the second
//!   Via (rule 5); pass [`Want::Any`] for responses to REGISTER, [`Want::Live`] otherwise.
//! * Routing an incoming request: [`Registry::live_bindings`] of the slot found.
//! * Contact rewriting: [`Registry::find_by_true_url`] (outgoing), `find_by_url` with
//!   [`UrlField::Masq`] (incoming REGISTER responses).
//! * Timer: [`Registry::next_deadline`], then [`Registry::expire`] when it is reached.
//! * Persistence: [`Registry::save`] and [`parse_saved`] + [`Registry::restore`].

mod persist;
mod uri;

pub use persist::{parse_saved, LoadProblem, LoadWarning, Loaded, RestoreReport, SavedBinding};
pub use uri::{Uri, UriError, UriPart};

use core::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::limits::MAX_CONTACTS_PER_AOR;
use crate::logging::REG;

/// Lifetime of a provisional binding, and of a binding being unregistered through the
/// proxy, so that the registrar's response can still be routed (siproxd `EXPIRE_NULL`).
pub const PROVISIONAL_SECS: u64 = 5;
/// Time an expired binding is kept before removal (siproxd `REGISTER_GRACE`).
pub const GRACE_SECS: u64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingState {
    /// Created by a proxied REGISTER, not yet confirmed by the registrar's 2xx.
    Provisional,
    Live,
}

/// One contact of an address-of-record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The UA's real contact (siproxd `true_url`).
    pub true_url: Uri,
    /// Where the REGISTER came from (the phone's NAT address if it is behind another NAT).
    pub source: SocketAddr,
    /// Expiry instant (same clock as `now`).
    pub expires: u64,
    pub state: BindingState,
    /// Last REGISTER or 2xx for this binding; the least recent one is replaced when an AOR
    /// registers more contacts than fit.
    pub updated: u64,
}

impl Binding {
    pub fn is_unexpired(&self, now: u64) -> bool {
        now < self.expires
    }

    /// Usable for routing an incoming request: confirmed and not expired.
    pub fn is_live(&self, now: u64) -> bool {
        self.state == BindingState::Live && self.is_unexpired(now)
    }
}

/// An occupied slot: one address-of-record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    reg_url: Uri,
    masq_url: Uri,
    bindings: heapless::Vec<Binding, MAX_CONTACTS_PER_AOR>,
}

impl Entry {
    /// The address-of-record as registered (the REGISTER's To URI).
    pub fn reg_url(&self) -> &Uri {
        &self.reg_url
    }

    /// The public identity (To URI with masked or outbound host).
    pub fn masq_url(&self) -> &Uri {
        &self.masq_url
    }

    /// All bindings, provisional and expired (in grace) included.
    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// The bindings an incoming request for this AOR is routed to.
    pub fn live_bindings(&self, now: u64) -> impl Iterator<Item = &Binding> {
        self.bindings.iter().filter(move |b| b.is_live(now))
    }

    fn matches(&self, now: u64, want: Want) -> bool {
        match want {
            Want::Any => true,
            Want::Live => self.bindings.iter().any(|b| b.is_live(now)),
        }
    }

    fn url_matches(&self, uri: &Uri, field: UrlField, same: fn(&Uri, &Uri) -> bool) -> bool {
        match field {
            UrlField::Masq => same(&self.masq_url, uri),
            UrlField::Reg => same(&self.reg_url, uri),
            UrlField::Either => same(&self.masq_url, uri) || same(&self.reg_url, uri),
        }
    }
}

/// How the REGISTER is being handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode<'a> {
    /// siproxd is the registrar: the REGISTER itself makes bindings live.
    Registrar,
    /// The REGISTER is forwarded; `outbound_host` (the outbound address, or `host_outbound`)
    /// becomes the masqueraded host, with `listen_port` when it is not 5060.
    OutboundProxy {
        outbound_host: &'a str,
        listen_port: u16,
    },
}

/// `mask_host` / `masked_host` pairs (config validation rejects unequal counts; extra
/// entries of the longer list are ignored here).
#[derive(Debug, Clone, Copy, Default)]
pub struct Masking<'a> {
    pub mask_host: &'a [String],
    pub masked_host: &'a [String],
}

impl Masking<'_> {
    /// The replacement for `host`: the first `mask_host[j]` equal to it (case-insensitive,
    /// host names are) gives `masked_host[j]`.
    pub fn masked(&self, host: &str) -> Option<&str> {
        self.mask_host
            .iter()
            .zip(self.masked_host.iter())
            .find(|(m, _)| m.eq_ignore_ascii_case(host))
            .map(|(_, r)| r.as_str())
    }
}

/// One Contact of a REGISTER with its resolved lifetime (its `expires` parameter, else the
/// Expires header, else `default_expires`; 0 = remove).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactBinding {
    pub uri: Uri,
    pub expires: u32,
}

/// Which slots a lookup may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Slots with at least one live, unexpired binding (incoming requests).
    Live,
    /// Any occupied slot, provisional and in-grace bindings included (REGISTER responses,
    /// source-address matching).
    Any,
}

/// Which URI of a slot a lookup compares with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlField {
    Masq,
    Reg,
    Either,
}

/// A binding found by a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub slot: usize,
    pub binding: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryError {
    /// No slot matches the AOR and no slot is free (the proxy answers 503 and counts it).
    Full,
    /// The masqueraded URI could not be built (masked or outbound host too long/invalid).
    Masq(UriError),
    /// A slot index that is not occupied.
    NoSuchSlot,
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryError::Full => f.write_str("registration table is full"),
            RegistryError::Masq(e) => write!(f, "cannot build masqueraded URI: {e}"),
            RegistryError::NoSuchSlot => f.write_str("no such registration slot"),
        }
    }
}

impl std::error::Error for RegistryError {}

/// The registration table.
pub struct Registry {
    slots: Box<[Option<Entry>]>,
    used: usize,
    /// One past the highest occupied slot: lookups (several per message) scan only up to it,
    /// not every preallocated slot (each a cache line of its own).
    hi: usize,
    /// Cached result of `next_deadline`, recomputed after a change.
    deadline: Option<Option<u64>>,
    generation: u64,
}

impl Registry {
    /// Allocates `max_registrations` slots, once.
    pub fn new(max_registrations: usize) -> Registry {
        Registry {
            slots: (0..max_registrations).map(|_| None).collect(),
            used: 0,
            hi: 0,
            deadline: Some(None),
            generation: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Occupied slots.
    pub fn len(&self) -> usize {
        self.used
    }

    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    pub fn entry(&self, slot: usize) -> Option<&Entry> {
        self.slots.get(slot).and_then(Option::as_ref)
    }

    /// Occupied slots in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &Entry)> {
        self.slots
            .get(..self.hi)
            .unwrap_or(&self.slots)
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|e| (i, e)))
    }

    fn entry_mut(&mut self, slot: usize) -> Option<&mut Entry> {
        self.slots.get_mut(slot).and_then(Option::as_mut)
    }

    fn free(&mut self, slot: usize) {
        if let Some(s) = self.slots.get_mut(slot) {
            if let Some(e) = s.take() {
                self.used = self.used.saturating_sub(1);
                log::debug!(target: REG, "registration of {} removed (slot {slot})", e.reg_url);
            }
        }
        while self.hi > 0 && self.slots.get(self.hi - 1).is_some_and(Option::is_none) {
            self.hi -= 1;
        }
    }

    fn occupy(&mut self, entry: Entry) -> Result<usize, RegistryError> {
        let (slot, free) = self
            .slots
            .iter_mut()
            .enumerate()
            .find(|(_, s)| s.is_none())
            .ok_or(RegistryError::Full)?;
        *free = Some(entry);
        self.used = self.used.saturating_add(1);
        self.hi = self.hi.max(slot.saturating_add(1));
        Ok(slot)
    }

    fn changed(&mut self) {
        self.deadline = None;
        self.generation = self.generation.wrapping_add(1);
    }

    /// Grows with every change of the table, so the persistence timer knows when to save.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The slot whose `reg_url` equals `aor` (compare_url).
    fn find_aor(&self, aor: &Uri) -> Option<usize> {
        self.iter()
            .find(|(_, e)| e.reg_url.same_url(aor))
            .map(|(i, _)| i)
    }

    /// Applies a REGISTER with the given To URI (`to`), source address and Contacts.
    ///
    /// Each Contact updates the binding whose `true_url` equals it (compare_url: user and
    /// host, so a phone that changed port updates its binding) or adds one; beyond
    /// `MAX_CONTACTS_PER_AOR` the least recently updated binding is replaced. A Contact with
    /// lifetime 0 removes its binding (registrar mode) or lets it lapse after
    /// [`PROVISIONAL_SECS`] (proxy mode, so the response can still be routed).
    ///
    /// Returns the slot, or `None` when nothing is registered for the AOR afterwards.
    pub fn register(
        &mut self,
        now: u64,
        mode: Mode<'_>,
        masking: &Masking<'_>,
        to: &Uri,
        source: SocketAddr,
        contacts: &[ContactBinding],
    ) -> Result<Option<usize>, RegistryError> {
        let existing = self.find_aor(to);
        let slot = match existing {
            Some(slot) => {
                if let Mode::OutboundProxy { .. } = mode {
                    // The outbound address may have changed (PPP reconnect).
                    let masq = match self.entry(slot) {
                        Some(e) => masq_for_mode(e.masq_url.clone(), mode)?,
                        None => return Err(RegistryError::NoSuchSlot),
                    };
                    if let Some(e) = self.entry_mut(slot) {
                        e.masq_url = masq;
                    }
                }
                slot
            }
            None => {
                if contacts.iter().all(|c| c.expires == 0) {
                    return Ok(None);
                }
                let mut masq = to.clone();
                if let Some(host) = masking.masked(to.host()) {
                    masq.set_host(host).map_err(RegistryError::Masq)?;
                }
                let masq = masq_for_mode(masq, mode)?;
                let slot = self
                    .occupy(Entry {
                        reg_url: to.clone(),
                        masq_url: masq,
                        bindings: heapless::Vec::new(),
                    })
                    .inspect_err(|_| {
                        log::debug!(target: REG, "registration table full, {to} not registered");
                    })?;
                log::debug!(target: REG, "new registration of {to} in slot {slot}");
                slot
            }
        };
        self.changed();
        let registrar = mode == Mode::Registrar;
        let Some(entry) = self.entry_mut(slot) else {
            return Err(RegistryError::NoSuchSlot);
        };
        // Replacing reg_url follows the AOR's current spelling, as siproxd does.
        entry.reg_url = to.clone();
        for contact in contacts {
            apply_contact(entry, now, registrar, contact, source);
        }
        if entry.bindings.is_empty() {
            self.free(slot);
            return Ok(None);
        }
        Ok(Some(slot))
    }

    /// The outbound address changed (PPP reconnect): every registration masqueraded on
    /// `old_host` moves to `mode`'s outbound host at once, without waiting for the phone's next
    /// REGISTER. Returns how many moved; one that cannot be rebuilt keeps its URI.
    pub fn rehost(&mut self, old_host: &str, mode: Mode<'_>) -> usize {
        let mut moved = 0usize;
        for entry in self.slots.iter_mut().flatten() {
            let old = crate::sip::unbracket(old_host);
            if !entry.masq_url.host().eq_ignore_ascii_case(old) {
                continue;
            }
            match masq_for_mode(entry.masq_url.clone(), mode) {
                Ok(m) => {
                    entry.masq_url = m;
                    moved = moved.saturating_add(1);
                }
                Err(e) => log::warn!("cannot move {} off {old_host}: {e}", entry.reg_url),
            }
        }
        if moved > 0 {
            self.changed();
        }
        moved
    }

    /// `Contact: *` with `Expires: 0`: removes every binding of the AOR (registrar mode) or
    /// lets them lapse after [`PROVISIONAL_SECS`] (proxy mode). Returns the slot if the AOR
    /// was registered.
    pub fn unregister_all(&mut self, now: u64, mode: Mode<'_>, to: &Uri) -> Option<usize> {
        let slot = self.find_aor(to)?;
        self.changed();
        match mode {
            Mode::Registrar => self.free(slot),
            Mode::OutboundProxy { .. } => {
                let lapse = now.saturating_add(PROVISIONAL_SECS);
                if let Some(e) = self.entry_mut(slot) {
                    for b in e.bindings.iter_mut() {
                        b.expires = b.expires.min(lapse);
                    }
                }
            }
        }
        Some(slot)
    }

    /// One Contact of the registrar's 2xx to a proxied REGISTER of `slot`, with the lifetime
    /// the registrar granted (its `expires` parameter, else the Expires header). A Contact
    /// equal to the slot's `masq_url` applies to all its bindings (they are all forwarded as
    /// the masqueraded URI), one equal to a binding's `true_url` to that binding; others (the
    /// AOR's bindings elsewhere) are ignored. Lifetime > 0 makes the bindings live until
    /// `now + lifetime` (may shorten); 0 removes them. Returns how many bindings it touched.
    pub fn confirm(
        &mut self,
        now: u64,
        slot: usize,
        contact: &Uri,
        lifetime: u32,
    ) -> Result<usize, RegistryError> {
        let entry = self.entry_mut(slot).ok_or(RegistryError::NoSuchSlot)?;
        let all = entry.masq_url.same_url(contact);
        let hit = |b: &Binding| all || b.true_url.same_url(contact);
        let before = entry.bindings.len();
        let touched;
        if lifetime == 0 {
            entry.bindings.retain(|b| !hit(b));
            touched = before.saturating_sub(entry.bindings.len());
        } else {
            let mut n = 0usize;
            for b in entry.bindings.iter_mut().filter(|b| hit(b)) {
                b.state = BindingState::Live;
                b.expires = now.saturating_add(u64::from(lifetime));
                b.updated = now;
                n = n.saturating_add(1);
            }
            touched = n;
        }
        let empty = entry.bindings.is_empty();
        if touched > 0 {
            log::debug!(target: REG, "registrar confirmed {touched} binding(s) of slot {slot} for {lifetime} s");
            self.changed();
        }
        if empty {
            self.free(slot);
        }
        Ok(touched)
    }

    /// Removes bindings whose expiry plus [`GRACE_SECS`] has been reached, and frees slots
    /// left without bindings. Returns the number of bindings removed.
    pub fn expire(&mut self, now: u64) -> usize {
        let mut removed = 0usize;
        for slot in 0..self.slots.len() {
            let Some(entry) = self.entry_mut(slot) else {
                continue;
            };
            let before = entry.bindings.len();
            entry
                .bindings
                .retain(|b| now < b.expires.saturating_add(GRACE_SECS));
            removed = removed.saturating_add(before.saturating_sub(entry.bindings.len()));
            if entry.bindings.is_empty() {
                self.free(slot);
            }
        }
        if removed > 0 {
            self.changed();
        }
        removed
    }

    /// The next instant at which [`Registry::expire`] will remove something, for the event
    /// loop's timer. Cached; a scan happens only after the table changed.
    pub fn next_deadline(&mut self) -> Option<u64> {
        if let Some(d) = self.deadline {
            return d;
        }
        let d = self
            .iter()
            .flat_map(|(_, e)| e.bindings.iter())
            .map(|b| b.expires.saturating_add(GRACE_SECS))
            .min();
        self.deadline = Some(d);
        d
    }

    /// §4.5 rule 1: a binding whose contact host or REGISTER source is `ip` (port ignored;
    /// any binding, in grace and provisional included).
    pub fn find_by_source_ip(&self, ip: IpAddr) -> Option<Hit> {
        // Canonical, so a dual-stack socket's IPv4-mapped source still matches.
        let ip = ip.to_canonical();
        self.find_binding(|b| {
            b.source.ip().to_canonical() == ip || b.true_url.host_ip() == Some(ip)
        })
    }

    /// §4.5 rules 2 and 3: a slot whose `masq_url` and/or `reg_url` equals `uri`
    /// (compare_url). Use [`Want::Any`] for responses to REGISTER, [`Want::Live`] otherwise.
    pub fn find_by_url(&self, now: u64, uri: &Uri, field: UrlField, want: Want) -> Option<usize> {
        self.iter()
            .find(|(_, e)| e.matches(now, want) && e.url_matches(uri, field, Uri::same_url))
            .map(|(i, _)| i)
    }

    /// §4.5 rule 4: user-part-only match (compare_url_user).
    pub fn find_by_user(&self, now: u64, uri: &Uri, field: UrlField, want: Want) -> Option<usize> {
        self.iter()
            .find(|(_, e)| e.matches(now, want) && e.url_matches(uri, field, Uri::same_user))
            .map(|(i, _)| i)
    }

    /// §4.5 rule 5: a binding whose `true_url` host:port (port default 5060) is
    /// `host`:`port`.
    pub fn find_by_true_hostport(
        &self,
        now: u64,
        host: &str,
        port: u16,
        want: Want,
    ) -> Option<Hit> {
        let ip = host.parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
        self.find_binding(|b| {
            (want == Want::Any || b.is_live(now))
                && b.true_url.port_or_default() == port
                && b.true_url.host_eq(host, ip)
        })
    }

    /// §4.10.1 outgoing Contact rewrite: a binding whose `true_url` equals `uri`.
    pub fn find_by_true_url(&self, uri: &Uri) -> Option<Hit> {
        self.find_binding(|b| b.true_url.same_url(uri))
    }

    fn find_binding(&self, pred: impl Fn(&Binding) -> bool) -> Option<Hit> {
        self.iter().find_map(|(slot, e)| {
            e.bindings
                .iter()
                .position(&pred)
                .map(|binding| Hit { slot, binding })
        })
    }

    /// The bindings of `slot` an incoming request is routed to.
    pub fn live_bindings(&self, now: u64, slot: usize) -> impl Iterator<Item = &Binding> {
        self.entry(slot)
            .into_iter()
            .flat_map(move |e| e.live_bindings(now))
    }
}

fn masq_for_mode(mut masq: Uri, mode: Mode<'_>) -> Result<Uri, RegistryError> {
    if let Mode::OutboundProxy {
        outbound_host,
        listen_port,
    } = mode
    {
        masq.set_host(outbound_host).map_err(RegistryError::Masq)?;
        // 5060 is left implicit, as in siproxd; the To URI's own port never applies.
        masq.set_port((listen_port != 5060).then_some(listen_port));
    }
    Ok(masq)
}

fn apply_contact(
    entry: &mut Entry,
    now: u64,
    registrar: bool,
    contact: &ContactBinding,
    source: SocketAddr,
) {
    let pos = entry
        .bindings
        .iter()
        .position(|b| b.true_url.same_url(&contact.uri));
    let lifetime = u64::from(contact.expires);
    if lifetime == 0 {
        let Some(pos) = pos else { return };
        if registrar {
            entry.bindings.remove(pos);
        } else if let Some(b) = entry.bindings.get_mut(pos) {
            b.expires = b.expires.min(now.saturating_add(PROVISIONAL_SECS));
        }
        return;
    }
    if let Some(b) = pos.and_then(|p| entry.bindings.get_mut(p)) {
        b.true_url = contact.uri.clone();
        b.source = source;
        b.updated = now;
        if registrar {
            b.state = BindingState::Live;
            b.expires = now.saturating_add(lifetime);
        } else {
            if !b.is_unexpired(now) {
                b.state = BindingState::Provisional;
            }
            // A refresh never shortens a live binding before the registrar answers.
            b.expires = b.expires.max(now.saturating_add(PROVISIONAL_SECS));
        }
        return;
    }
    let binding = Binding {
        true_url: contact.uri.clone(),
        source,
        expires: now.saturating_add(if registrar {
            lifetime
        } else {
            PROVISIONAL_SECS
        }),
        state: if registrar {
            BindingState::Live
        } else {
            BindingState::Provisional
        },
        updated: now,
    };
    if let Err(binding) = entry.bindings.push(binding) {
        let oldest = entry.bindings.iter_mut().min_by_key(|b| b.updated);
        if let Some(oldest) = oldest {
            log::debug!(
                target: REG,
                "{} has {MAX_CONTACTS_PER_AOR} contacts, {} replaces {}",
                entry.reg_url,
                binding.true_url,
                oldest.true_url
            );
            *oldest = binding;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests;
