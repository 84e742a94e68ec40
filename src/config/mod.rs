//! `siproxd.conf` configuration: the typed `Config`, its defaults, the file parser, the UCI
//! reader and validation.
//!
//! Every directive of siproxd (behaviour §2.3, §8.3) is a field of `Config` (or `PluginConfig`)
//! named exactly as the directive, so `grep -rn rtp_timeout src/` finds where it is parsed and
//! where it is used.
//!
//! Layout: `lexer` splits `siproxd.conf` lines and reads C integers, `uci` reads OpenWrt UCI
//! files, `directives` is the table of every directive (type, range, field) and applies one
//! value, `validate` does the whole-file checks (RTP port parity, paired arrays). `parse_conf`
//! and `parse_uci` are pure (bytes in, `Config` and diagnostics out); `load` adds the file
//! system and the search path.
//!
//! Unlike siproxd (behaviour §2.2): the keyword is matched exactly, `#` inside a word or inside
//! double quotes is kept, lines have no length limit, and every problem is reported with its
//! file and line. Plugin directives are read in the same pass as the main ones.

mod directives;
mod lexer;
mod uci;
mod validate;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests;

pub use directives::{names as directive_names, plugin_name};
pub use lexer::parse_c_int;
pub use uci::UCI_ONLY_OPTIONS;

use crate::acl::AclList;
use crate::limits;
use directives::Loc;

/// The plugins compiled into siproxd-rs (behaviour §8.2), as named by `load_plugin =
/// plugin_NAME.la`. `Config::load_plugin` holds these names.
pub const BUILTIN_PLUGINS: [&str; 16] = [
    "demo",
    "logcall",
    "shortdial",
    "defaulttarget",
    "fix_bogus_via",
    "fix_DTAG",
    "stun",
    "prefix",
    "regex",
    "regex_body",
    "codecfilter",
    "stripheader",
    "siptrunk",
    "fix_fbox_anoncall",
    "stats",
    "blacklist",
];

/// Built-in plugin settings (behaviour §8.3). Field names are the directive names.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PluginConfig {
    pub plugin_demo_string: Option<String>,
    pub plugin_shortdial_akey: Option<String>,
    pub plugin_shortdial_entry: Vec<String>,
    pub plugin_defaulttarget_target: Option<String>,
    pub plugin_defaulttarget_log: i64,
    pub plugin_fix_bogus_via_networks: Option<AclList>,
    pub plugin_fix_dtag_networks: Option<AclList>,
    pub plugin_stun_server: Option<String>,
    pub plugin_stun_port: u16,
    pub plugin_stun_period: u32,
    pub plugin_prefix_akey: Option<String>,
    pub plugin_regex_desc: Vec<String>,
    pub plugin_regex_pattern: Vec<String>,
    pub plugin_regex_replace: Vec<String>,
    pub plugin_regex_body_desc: Vec<String>,
    pub plugin_regex_body_pattern: Vec<String>,
    pub plugin_regex_body_replace: Vec<String>,
    pub plugin_codecfilter_blacklist: Vec<String>,
    pub plugin_stripheader_remove: Vec<String>,
    pub plugin_siptrunk_name: Vec<String>,
    pub plugin_siptrunk_account: Vec<String>,
    pub plugin_siptrunk_numbers_regex: Vec<String>,
    pub plugin_fix_fbox_anoncall_networks: Option<AclList>,
    pub plugin_stats_to_syslog: i64,
    pub plugin_stats_to_file: i64,
    pub plugin_stats_filename: Option<String>,
    pub plugin_blacklist_dbpath: Option<String>,
    pub plugin_blacklist_db_sync_mode: Option<String>,
    pub plugin_blacklist_simulate: i64,
    pub plugin_blacklist_duration: i64,
    pub plugin_blacklist_hitcount: i64,
    pub plugin_blacklist_register_window: i64,
}

/// The whole configuration. Field names are the siproxd directive names.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Debug class bitmask (behaviour §7.1); `-1` in the file means all classes.
    pub debug_level: u32,
    pub debug_port: u16,
    pub sip_listen_port: u16,
    pub daemonize: bool,
    /// 0..4, syslog verbosity (behaviour §7.1).
    pub silence_log: u8,
    /// Interface name or IP literal (decisions §1).
    pub if_inbound: Option<String>,
    pub if_outbound: Option<String>,
    pub host_outbound: Option<String>,
    /// Lowest RTP port, even after loading (an odd value is rounded up).
    pub rtp_port_low: u16,
    /// Highest RTP port, even after loading (odd rounded down; its RTCP port is this + 1).
    pub rtp_port_high: u16,
    pub rtp_timeout: u32,
    /// 0 = no relay, 1 = built-in relay.
    pub rtp_proxy_enable: u8,
    pub rtp_dscp: u8,
    pub rtp_input_dejitter: u32,
    pub rtp_output_dejitter: u32,
    pub user: Option<String>,
    pub chrootjail: Option<String>,
    /// `None` = directive absent (everyone allowed); ACL semantics in `acl`.
    pub hosts_allow_reg: Option<AclList>,
    pub hosts_allow_sip: Option<AclList>,
    pub hosts_deny_sip: Option<AclList>,
    pub proxy_auth_realm: Option<String>,
    pub proxy_auth_passwd: Option<String>,
    pub proxy_auth_pwfile: Option<String>,
    pub mask_host: Vec<String>,
    pub masked_host: Vec<String>,
    pub outbound_proxy_host: Option<String>,
    pub outbound_proxy_port: u16,
    pub outbound_domain_name: Vec<String>,
    pub outbound_domain_host: Vec<String>,
    pub outbound_domain_port: Vec<u16>,
    pub registration_file: Option<String>,
    pub pid_file: Option<String>,
    pub default_expires: u32,
    pub autosave_registrations: u32,
    pub ua_string: Option<String>,
    /// Bit 1: rport on own Via of incoming-direction messages; bit 2: outgoing.
    pub use_rport: u8,
    pub obscure_loops: bool,
    /// Accepted and ignored: plugins are compiled in (decisions §1).
    pub plugindir: Option<String>,
    /// Built-in plugin names enabled, normalised (`plugin_logcall.la` → `logcall`).
    pub load_plugin: Vec<String>,
    pub sip_dscp: u8,
    pub tcp_timeout: u32,
    pub tcp_connect_timeout: u32,
    pub tcp_keepalive: u32,
    pub thread_stack_size: u32,
    // New directives of docs/DECISIONS.md.
    pub max_registrations: usize,
    pub max_rtp_streams: usize,
    pub max_tcp_connections: usize,
    pub debug_bind: Option<String>,
    pub status_file: Option<String>,
    pub status_interval: u32,
    /// Also offer an RFC 8760 SHA-256 digest challenge (before the MD5 one).
    pub proxy_auth_sha256: bool,
    pub plugins: PluginConfig,
}

impl Default for Config {
    /// The documented defaults (decisions §1), not siproxd's accidental code defaults.
    fn default() -> Self {
        Config {
            debug_level: 0,
            debug_port: 0,
            sip_listen_port: 5060,
            daemonize: false,
            silence_log: 1,
            if_inbound: None,
            if_outbound: None,
            host_outbound: None,
            rtp_port_low: 7070,
            rtp_port_high: 7089,
            rtp_timeout: 300,
            rtp_proxy_enable: 1,
            rtp_dscp: 0,
            rtp_input_dejitter: 0,
            rtp_output_dejitter: 0,
            user: None,
            chrootjail: None,
            hosts_allow_reg: None,
            hosts_allow_sip: None,
            hosts_deny_sip: None,
            proxy_auth_realm: None,
            proxy_auth_passwd: None,
            proxy_auth_pwfile: None,
            mask_host: Vec::new(),
            masked_host: Vec::new(),
            outbound_proxy_host: None,
            outbound_proxy_port: 5060,
            outbound_domain_name: Vec::new(),
            outbound_domain_host: Vec::new(),
            outbound_domain_port: Vec::new(),
            registration_file: None,
            pid_file: None,
            default_expires: 3600,
            autosave_registrations: 300,
            ua_string: None,
            use_rport: 0,
            obscure_loops: false,
            plugindir: None,
            load_plugin: Vec::new(),
            sip_dscp: 0,
            tcp_timeout: 600,
            tcp_connect_timeout: 500,
            tcp_keepalive: 0,
            thread_stack_size: 0,
            max_registrations: limits::DEFAULT_MAX_REGISTRATIONS,
            max_rtp_streams: limits::DEFAULT_MAX_RTP_STREAMS,
            max_tcp_connections: limits::DEFAULT_MAX_TCP_CONNECTIONS,
            debug_bind: None,
            status_file: None,
            status_interval: 0,
            proxy_auth_sha256: false,
            plugins: PluginConfig {
                plugin_stun_port: 3478,
                plugin_stun_period: 300,
                plugin_blacklist_duration: 3600,
                plugin_blacklist_hitcount: 10,
                plugin_blacklist_register_window: 30,
                ..PluginConfig::default()
            },
        }
    }
}

impl Config {
    /// What `src` may do under `hosts_deny_sip`, `hosts_allow_sip` and `hosts_allow_reg`
    /// (behaviour §4.2).
    pub fn access(&self, src: std::net::IpAddr) -> crate::acl::Access {
        crate::acl::check(
            self.hosts_deny_sip.as_ref(),
            self.hosts_allow_sip.as_ref(),
            self.hosts_allow_reg.as_ref(),
            src,
        )
    }
}

use std::fmt;
use std::path::{Path, PathBuf};

/// How serious a configuration problem is. Warnings let siproxd-rs start (compatibility with
/// siproxd); under `-t` they count as errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Warning,
    Error,
}

/// One problem found in a configuration file; displays as `FILE:LINE: directive: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    /// 1-based; 0 for problems not tied to a line (e.g. a `-s` override or a cross-check).
    pub line: usize,
    pub directive: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.directive, self.message
        )
    }
}

/// Where the configuration comes from.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// `-c FILE`, or `None` for siproxd's search path (behaviour §2.1).
    File(Option<&'a Path>),
    /// `-u FILE`: an OpenWrt UCI file (decisions §9).
    Uci(&'a Path),
}

/// A configuration that passed validation, with the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub path: PathBuf,
    pub diagnostics: Vec<Diagnostic>,
}

/// Why a configuration could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// No file could be opened; the paths tried.
    NotFound(Vec<PathBuf>),
    /// Every problem found (at least one of severity `Error`, or any problem under `strict`).
    Invalid(Vec<Diagnostic>),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::NotFound(paths) => {
                write!(f, "could not open config file (tried:")?;
                for p in paths {
                    write!(f, " {}", p.display())?;
                }
                write!(f, ")")
            }
            LoadError::Invalid(diags) => {
                for (i, d) in diags.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{d}")?;
                }
                Ok(())
            }
        }
    }
}

/// siproxd's search path (behaviour §2.1) for a given `$HOME`; the first file that can be read
/// wins. siproxd's compile-time `<sysconfdir>` entry is `/etc` here, already in the list.
pub fn search_paths(home: Option<&Path>) -> Vec<PathBuf> {
    let mut paths = Vec::with_capacity(5);
    if let Some(h) = home {
        paths.push(h.join(".siproxdrc"));
    }
    for p in [
        "/etc/siproxd.conf",
        "/etc/siproxd/siproxd.conf",
        "/usr/etc/siproxd.conf",
        "/usr/local/etc/siproxd.conf",
    ] {
        paths.push(PathBuf::from(p));
    }
    paths
}

/// Reads, parses and validates the configuration. `sets` are the `-s DIRECTIVE=VALUE`
/// overrides, applied after the file. With `strict` (`-t`) warnings are errors too.
pub fn load(source: Source<'_>, sets: &[String], strict: bool) -> Result<Loaded, LoadError> {
    match source {
        Source::File(Some(p)) => load_first(&[p.to_path_buf()], sets, strict, parse_conf),
        Source::File(None) => {
            let home = std::env::var_os("HOME").map(PathBuf::from);
            load_first(&search_paths(home.as_deref()), sets, strict, parse_conf)
        }
        Source::Uci(p) => load_first(&[p.to_path_buf()], sets, strict, parse_uci),
    }
}

type Parser =
    fn(&[u8], &str, &[String], bool) -> Result<(Config, Vec<Diagnostic>), Vec<Diagnostic>>;

/// Loads the first of `paths` that can be read with `parse`.
pub fn load_first(
    paths: &[PathBuf],
    sets: &[String],
    strict: bool,
    parse: Parser,
) -> Result<Loaded, LoadError> {
    for path in paths {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let label = path.display().to_string();
        return match parse(&bytes, &label, sets, strict) {
            Ok((config, diagnostics)) => Ok(Loaded {
                config,
                path: path.clone(),
                diagnostics,
            }),
            Err(diags) => Err(LoadError::Invalid(diags)),
        };
    }
    Err(LoadError::NotFound(paths.to_vec()))
}

/// Splits file bytes into numbered lines; a line that is not UTF-8 is read lossily with a warning.
fn lines<'a>(
    bytes: &'a [u8],
    file: &str,
    out: &mut Vec<Diagnostic>,
) -> Vec<(usize, std::borrow::Cow<'a, str>)> {
    let mut v = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = i.saturating_add(1);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = String::from_utf8_lossy(raw);
        if let std::borrow::Cow::Owned(_) = text {
            out.push(Loc { file, line }.diag(
                Severity::Warning,
                "(encoding)",
                "line is not valid UTF-8; invalid bytes replaced".into(),
            ));
        }
        v.push((line, text));
    }
    v
}

/// Applies one `siproxd.conf` line (or `-s` argument).
fn apply_line(cfg: &mut Config, text: &str, loc: Loc<'_>, out: &mut Vec<Diagnostic>) {
    match lexer::split_line(text) {
        lexer::Line::Blank => {}
        lexer::Line::NoEquals(t) => out.push(loc.diag(
            Severity::Warning,
            t,
            "expected DIRECTIVE = VALUE (no '=' found); line ignored".into(),
        )),
        lexer::Line::Entry { key, value: Err(e) } => out.push(loc.diag(
            Severity::Warning,
            key,
            format!("{}; directive ignored", e.message()),
        )),
        lexer::Line::Entry { key: "", .. } => out.push(loc.diag(
            Severity::Warning,
            "(syntax)",
            "no directive name before '='; line ignored".into(),
        )),
        lexer::Line::Entry { key, value: Ok(v) } => directives::apply(cfg, key, v, loc, out),
    }
}

fn apply_sets(cfg: &mut Config, sets: &[String], out: &mut Vec<Diagnostic>) {
    for (i, s) in sets.iter().enumerate() {
        apply_line(
            cfg,
            s,
            Loc {
                file: "-s",
                line: i.saturating_add(1),
            },
            out,
        );
    }
}

/// Validates, then decides: any error (or, under `strict`, any diagnostic) rejects the whole
/// configuration, with every problem found.
fn finish(
    mut cfg: Config,
    file: &str,
    mut out: Vec<Diagnostic>,
    strict: bool,
) -> Result<(Config, Vec<Diagnostic>), Vec<Diagnostic>> {
    validate::validate(&mut cfg, Loc { file, line: 0 }, &mut out);
    if strict {
        for d in &mut out {
            d.severity = Severity::Error;
        }
    }
    if out.iter().any(|d| d.severity == Severity::Error) {
        Err(out)
    } else {
        Ok((cfg, out))
    }
}

/// Parses `siproxd.conf` text (sans IO). `file` labels the diagnostics; `-s` overrides are
/// labelled `-s` with their 1-based argument index as line.
pub fn parse_conf(
    bytes: &[u8],
    file: &str,
    sets: &[String],
    strict: bool,
) -> Result<(Config, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut out = Vec::new();
    let mut cfg = Config::default();
    for (line, text) in lines(bytes, file, &mut out) {
        apply_line(&mut cfg, &text, Loc { file, line }, &mut out);
    }
    apply_sets(&mut cfg, sets, &mut out);
    finish(cfg, file, out, strict)
}

/// Parses an OpenWrt UCI file (sans IO): the first `config siproxd` section, `option` and `list`
/// entries being directives of the same name. An empty value means "unset", as in the init
/// script.
pub fn parse_uci(
    bytes: &[u8],
    file: &str,
    sets: &[String],
    strict: bool,
) -> Result<(Config, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut out = Vec::new();
    let text = String::from_utf8_lossy(bytes);
    if let std::borrow::Cow::Owned(_) = text {
        out.push(Loc { file, line: 0 }.diag(
            Severity::Warning,
            "(encoding)",
            "file is not valid UTF-8; invalid bytes replaced".into(),
        ));
    }
    let mut cfg = Config::default();
    for e in uci::read(&text, file, &mut out) {
        if e.value.is_empty() || UCI_ONLY_OPTIONS.contains(&e.name.as_str()) {
            continue;
        }
        directives::apply(
            &mut cfg,
            &e.name,
            &e.value,
            Loc { file, line: e.line },
            &mut out,
        );
    }
    // Syntax problems were found in a first pass; report in file order.
    out.sort_by_key(|d| d.line);
    apply_sets(&mut cfg, sets, &mut out);
    finish(cfg, file, out, strict)
}
