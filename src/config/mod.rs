//! `siproxd.conf` configuration: the typed `Config`, its defaults, the file parser, the UCI
//! reader and validation.
//!
//! Every directive of siproxd (behaviour §2.3, §8.3) is a field of `Config` (or `PluginConfig`)
//! named exactly as the directive, so `grep -rn rtp_timeout src/` finds where it is parsed and
//! where it is used. Each is declared once, in `schema`.
//!
//! Layout: `schema` declares every directive (field, type, default, kind, restart-only) and
//! generates `Config` and the parser table from it, `lexer` splits `siproxd.conf` lines and
//! reads C integers, `uci` reads OpenWrt UCI files, `directives` applies one value,
//! `validate` does the whole-file checks (RTP port parity, paired arrays), `typed` gives the
//! decoded views the core reads (`domain_routes`, `rport`, `relay_enabled`). `parse_conf` and
//! `parse_uci` are pure (bytes in, `Config` and diagnostics out); `load` adds the file system
//! and the search path.
//!
//! Unlike siproxd (behaviour §2.2): the keyword is matched exactly, `#` inside a word or inside
//! double quotes is kept, lines have no length limit, and every problem is reported with its
//! file and line. Plugin directives are read in the same pass as the main ones.

mod directives;
mod lexer;
mod schema;
mod typed;
mod uci;
mod validate;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests;

pub use directives::{names as directive_names, plugin_name, restart_only_names};
pub use lexer::parse_c_int;
pub use schema::{keep_restart_only, restart_only_changes, Config, PluginConfig};
pub use typed::{DomainRoute, ProxyTransport, RportPolicy};
pub use uci::UCI_ONLY_OPTIONS;

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

impl Config {
    /// Whether `load_plugin` names the plugin `name` (e.g. "blacklist").
    pub fn loads(&self, name: &str) -> bool {
        self.load_plugin.iter().any(|p| p == name)
    }

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

/// Applies one `siproxd.conf` line (or `-s` argument); an entry appended to a paired list is
/// recorded in `lists` with its location.
fn apply_line<'a>(
    cfg: &mut Config,
    text: &str,
    loc: Loc<'a>,
    lists: &mut validate::ListEntries<'a>,
    out: &mut Vec<Diagnostic>,
) {
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
        lexer::Line::Entry { key, value: Ok(v) } => {
            lists.record(directives::apply(cfg, key, v, loc, out), loc);
        }
    }
}

fn apply_sets<'a>(
    cfg: &mut Config,
    sets: &[String],
    lists: &mut validate::ListEntries<'a>,
    out: &mut Vec<Diagnostic>,
) {
    for (i, s) in sets.iter().enumerate() {
        let loc = Loc {
            file: "-s",
            line: i.saturating_add(1),
        };
        apply_line(cfg, s, loc, lists, out);
    }
}

/// Validates, then decides: any error (or, under `strict`, any diagnostic) rejects the whole
/// configuration, with every problem found.
fn finish(
    mut cfg: Config,
    file: &str,
    lists: &validate::ListEntries<'_>,
    mut out: Vec<Diagnostic>,
    strict: bool,
) -> Result<(Config, Vec<Diagnostic>), Vec<Diagnostic>> {
    validate::validate(&mut cfg, Loc { file, line: 0 }, lists, &mut out);
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
    let mut lists = validate::ListEntries::default();
    for (line, text) in lines(bytes, file, &mut out) {
        apply_line(&mut cfg, &text, Loc { file, line }, &mut lists, &mut out);
    }
    apply_sets(&mut cfg, sets, &mut lists, &mut out);
    finish(cfg, file, &lists, out, strict)
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
    let mut lists = validate::ListEntries::default();
    for e in uci::read(&text, file, &mut out) {
        if e.value.is_empty() || UCI_ONLY_OPTIONS.contains(&e.name.as_str()) {
            continue;
        }
        let loc = Loc { file, line: e.line };
        lists.record(
            directives::apply(&mut cfg, &e.name, &e.value, loc, &mut out),
            loc,
        );
    }
    // Syntax problems were found in a first pass; report in file order.
    out.sort_by_key(|d| d.line);
    apply_sets(&mut cfg, sets, &mut lists, &mut out);
    finish(cfg, file, &lists, out, strict)
}
