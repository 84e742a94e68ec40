//! `siproxd.conf` configuration: the typed `Config`, its defaults, the file parser, the UCI
//! reader and validation.
//!
//! Every directive of siproxd (behaviour §2.3, §8.3) is a field of `Config` (or `PluginConfig`)
//! named exactly as the directive, so `grep -rn rtp_timeout src/` finds where it is parsed and
//! where it is used.

use crate::acl::AclList;
use crate::limits;

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
    pub rtp_port_low: u16,
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
    // New directives of decisions.md.
    pub max_registrations: usize,
    pub max_rtp_streams: usize,
    pub max_tcp_connections: usize,
    pub debug_bind: Option<String>,
    pub status_file: Option<String>,
    pub status_interval: u32,
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

/// Reads, parses and validates the configuration. `sets` are the `-s DIRECTIVE=VALUE`
/// overrides, applied after the file. With `strict` (`-t`) warnings are errors too.
pub fn load(source: Source<'_>, sets: &[String], strict: bool) -> Result<Loaded, LoadError> {
    // Placeholder until the parser lands: only the defaults.
    let _ = (sets, strict);
    let path = match source {
        Source::File(Some(p)) | Source::Uci(p) => p.to_path_buf(),
        Source::File(None) => PathBuf::from("/etc/siproxd.conf"),
    };
    Ok(Loaded {
        config: Config::default(),
        path,
        diagnostics: Vec::new(),
    })
}
