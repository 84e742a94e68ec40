//! The router build is compiled with `-Z fmt-debug=none` (scripts/cross-build.sh): there,
//! `{:?}` prints nothing and derived `Debug` impls are empty. So no text the program shows
//! (logs, errors, the status file) may use `{:?}`: strings are shown with
//! `logging::Quoted`, everything else through `Display`. This test reads the sources and
//! fails on a `{:?}`-style placeholder outside the test code, so such a use cannot slip in
//! and silently print nothing on the router.

use std::fs;
use std::path::{Path, PathBuf};

/// Lines allowed to format with `{:?}`: inside a hand-written `Debug` impl (only `{:?}`
/// itself calls it, so it is dropped along with every other `Debug` in the router build).
const ALLOWED: &[(&str, &str)] = &[(
    "src/plugins/regex.rs",
    r#"write!(f, "Regex({:?})", self.pattern)"#,
)];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// A `{...?}` placeholder: `{:?}`, `{x:?}`, `{:#?}`, `{0:>4?}` (`{{` is an escaped brace).
fn has_debug_placeholder(line: &str) -> bool {
    let b = line.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        i += 1;
        if c != b'{' {
            continue;
        }
        if b.get(i) == Some(&b'{') {
            i += 1;
            continue;
        }
        let Some(len) = b
            .get(i..)
            .and_then(|r| r.iter().position(|&c| matches!(c, b'{' | b'}' | b'"')))
        else {
            return false;
        };
        let inner = b.get(i..i + len).unwrap_or_default();
        if b.get(i + len) == Some(&b'}') && inner.contains(&b':') && inner.ends_with(b"?") {
            return true;
        }
        i += len;
    }
    false
}

#[test]
fn no_debug_formatting_outside_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    assert!(
        files.len() > 50,
        "sources not found under {}",
        root.display()
    );
    let mut found = Vec::new();
    for f in &files {
        let rel = f
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel.ends_with("/tests.rs") {
            continue;
        }
        let text = fs::read_to_string(f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            let t = line.trim();
            // the test module (after its attributes) closes every file that has one
            if t == "#[cfg(test)]"
                && lines.iter().skip(n + 1).take(10).any(|l| {
                    let l = l.trim();
                    (l.starts_with("mod ") || l.contains(" mod ")) && l.ends_with('{')
                })
            {
                break;
            }
            if t.starts_with("//") || !has_debug_placeholder(t) {
                continue;
            }
            if ALLOWED.iter().any(|&(file, l)| file == rel && l == t) {
                continue;
            }
            found.push(format!("{rel}:{}: {t}", n + 1));
        }
    }
    assert!(
        found.is_empty(),
        "{{:?}} prints nothing in the router build (-Z fmt-debug=none); use Display or \
         logging::Quoted:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_placeholder_check_sees_every_form() {
    for yes in [
        r#"log::info!("{:?}", x)"#,
        r#"format!("a {x:?} b")"#,
        r#"write!(f, "{:#?}", v)"#,
        r#""{0:>4?}""#,
    ] {
        assert!(has_debug_placeholder(yes), "{yes}");
    }
    for no in [
        r#"log::info!("{x} {}", y)"#,
        r#"let m = map.get(&k)?;"#,
        r#"format!("{{:?}} is escaped")"#,
        "if let Some(x) = y { z? }",
    ] {
        assert!(!has_debug_placeholder(no), "{no}");
    }
}
