//! OpenWrt UCI reader (decisions §9): the first `config siproxd` section of an `/etc/config`
//! file, each `option`/`list` being the siproxd directive of the same name.

use super::directives::Loc;
use super::{Diagnostic, Severity};

/// UCI options that are not siproxd directives but are valid in the section: logical network
/// names the init script resolves into `if_inbound`/`if_outbound` (passed back with `-s`), the
/// usual service switch, and the init script's firewall switch.
pub const UCI_ONLY_OPTIONS: [&str; 4] = [
    "interface_inbound",
    "interface_outbound",
    "enabled",
    "firewall",
];

/// One `option`/`list` of the chosen section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UciEntry {
    pub line: usize,
    pub name: String,
    pub value: String,
}

/// Splits one UCI line into words: whitespace separates them, `'...'` keeps everything
/// literally, `"..."` and bare words honour backslash escapes, adjacent pieces join (`a'b c'`
/// is one word), and `#` at the start of a word starts a comment.
pub fn tokenize(line: &str) -> Result<Vec<String>, &'static str> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.peek() {
            None | Some('#') => return Ok(words),
            Some(_) => {}
        }
        let mut word = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            match c {
                '\'' => loop {
                    match chars.next() {
                        None => return Err("single-quoted value has no closing quote"),
                        Some('\'') => break,
                        Some(x) => word.push(x),
                    }
                },
                '"' => loop {
                    match chars.next() {
                        None => return Err("double-quoted value has no closing quote"),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            None => return Err("double-quoted value has no closing quote"),
                            Some(x) => word.push(x),
                        },
                        Some(x) => word.push(x),
                    }
                },
                '\\' => match chars.next() {
                    None => return Err("backslash at end of line"),
                    Some(x) => word.push(x),
                },
                _ => word.push(c),
            }
        }
        words.push(word);
    }
}

/// Reads the UCI text and returns the entries of the first `siproxd` section, in order.
/// Syntax problems are errors with the UCI file's line numbers.
pub fn read(text: &str, file: &str, out: &mut Vec<Diagnostic>) -> Vec<UciEntry> {
    #[derive(PartialEq)]
    enum State {
        BeforeSection,
        InSiproxd,
        Other,
    }
    let mut state = State::BeforeSection;
    let mut found = false;
    let mut entries = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = i.saturating_add(1);
        let loc = Loc { file, line };
        let words = match tokenize(raw) {
            Ok(w) => w,
            Err(m) => {
                let mut raw_words = raw.split_whitespace();
                let first = raw_words.next().unwrap_or("uci");
                let name = match first {
                    "option" | "list" => raw_words.next().unwrap_or(first),
                    _ => first,
                };
                out.push(loc.diag(Severity::Error, name, m.to_string()));
                continue;
            }
        };
        let mut w = words.iter().map(String::as_str);
        let Some(keyword) = w.next() else { continue };
        let rest: Vec<&str> = w.collect();
        match keyword {
            "package" => {}
            "config" => {
                let (Some(ty), true) = (rest.first(), rest.len() <= 2) else {
                    out.push(loc.diag(
                        Severity::Error,
                        "config",
                        "expected: config TYPE ['NAME']".into(),
                    ));
                    state = State::Other;
                    continue;
                };
                if *ty == "siproxd" && !found {
                    found = true;
                    state = State::InSiproxd;
                } else {
                    if *ty == "siproxd" {
                        log::warn!(target: crate::logging::CONFIG,
                            "{file}:{line}: only the first 'config siproxd' section is used");
                    }
                    state = State::Other;
                }
            }
            "option" | "list" => {
                let [name, value] = rest.as_slice() else {
                    out.push(loc.diag(
                        Severity::Error,
                        keyword,
                        format!("expected: {keyword} NAME 'value'"),
                    ));
                    continue;
                };
                match state {
                    State::BeforeSection => out.push(loc.diag(
                        Severity::Error,
                        name,
                        format!("{keyword} outside of a 'config' section"),
                    )),
                    State::InSiproxd => entries.push(UciEntry {
                        line,
                        name: (*name).to_string(),
                        value: (*value).to_string(),
                    }),
                    State::Other => {}
                }
            }
            other => out.push(loc.diag(
                Severity::Error,
                other,
                "expected 'config', 'option', 'list' or 'package'".into(),
            )),
        }
    }
    if !found {
        out.push(Loc { file, line: 0 }.diag(
            Severity::Error,
            "config",
            "no 'config siproxd' section found".into(),
        ));
    }
    entries
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        tokenize(line).unwrap()
    }

    #[test]
    fn tokenizer_quoting() {
        assert_eq!(
            words("\toption if_inbound eth0"),
            ["option", "if_inbound", "eth0"]
        );
        assert_eq!(
            words("option ua_string 'my # agent'"),
            ["option", "ua_string", "my # agent"]
        );
        assert_eq!(
            words(r#"option ua_string "say \"hi\"""#),
            ["option", "ua_string", r#"say "hi""#]
        );
        assert_eq!(
            words(r"option x 'back\slash'"),
            ["option", "x", r"back\slash"]
        );
        assert_eq!(words("option x a'b c'd"), ["option", "x", "ab cd"]);
        assert_eq!(words("option x ''"), ["option", "x", ""]);
        assert_eq!(
            words("list load_plugin 'plugin_logcall.so' # trailing"),
            ["list", "load_plugin", "plugin_logcall.so"]
        );
        assert_eq!(words("#\toption if_inbound eth0"), Vec::<String>::new());
        assert_eq!(words("option x a#b"), ["option", "x", "a#b"]);
        assert!(tokenize("option x 'open").is_err());
        assert!(tokenize("option x \"open").is_err());
    }

    #[test]
    fn first_siproxd_section_only() {
        let text = "config other 'x'\n\toption debug_level 5\nconfig siproxd 'general'\n\toption sip_listen_port 5070\n\tlist mask_host a\n\tlist mask_host b\nconfig siproxd 'second'\n\toption sip_listen_port 9\n";
        let mut out = Vec::new();
        let e = read(text, "f", &mut out);
        assert!(out.is_empty(), "{out:?}");
        let got: Vec<(usize, &str, &str)> = e
            .iter()
            .map(|e| (e.line, e.name.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (4, "sip_listen_port", "5070"),
                (5, "mask_host", "a"),
                (6, "mask_host", "b")
            ]
        );
    }

    #[test]
    fn syntax_errors_carry_uci_line_numbers() {
        let text = "# comment\n\noption early 1\nconfig siproxd\n\toption lonely\n\toption x 'unterminated\n\tbogus word\n\toption ok 1\n";
        let mut out = Vec::new();
        let e = read(text, "/etc/config/siproxd", &mut out);
        let lines: Vec<usize> = out.iter().map(|d| d.line).collect();
        assert_eq!(lines, [3, 5, 6, 7]);
        assert!(out.iter().all(|d| d.severity == Severity::Error));
        assert_eq!(
            out[0].to_string(),
            "/etc/config/siproxd:3: early: option outside of a 'config' section"
        );
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].line, 8);
    }

    #[test]
    fn missing_section_is_an_error() {
        let mut out = Vec::new();
        read("config network 'lan'\n", "f", &mut out);
        assert_eq!(out.len(), 1);
        assert!(out[0].message.contains("no 'config siproxd' section"));
    }
}
