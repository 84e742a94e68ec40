//! Regular expressions with siproxd's semantics: POSIX extended (ERE), case-insensitive
//! (ASCII letters), `\0`..`\9` in replacements. A small matcher of our own, in safe Rust:
//! musl's `regcomp`/`regexec` (TRE, the wide-character class tables and printf through
//! `regerror`) cost the router binary about 55 kB.
//!
//! Supported: literals, `.`, bracket expressions (ranges, `^` negation, `]` first or `-`
//! first/last as members, backslash literal inside, the classes `[:alpha:]` `[:digit:]`
//! `[:alnum:]` `[:upper:]` `[:lower:]` `[:space:]` `[:blank:]` `[:punct:]` `[:xdigit:]`
//! `[:cntrl:]` `[:print:]` `[:graph:]`, all ASCII), anchors `^` `$` (anywhere, as in ERE),
//! groups `( )`, alternation `|` (empty branches match the empty string), the quantifiers `*`
//! `+` `?` `{m}` `{m,}` `{m,n}` (`{,n}` as `{0,n}`, bounds up to 255, two in a row at most),
//! backslash escapes (`\.` etc. are the character itself; as musl's TRE also `\t` `\n` `\r`
//! and the shorthands `\d` `\D` `\s` `\S` `\w` `\W`). Refused with an error: back-references
//! `\1`..`\9`, collating elements `[. .]`/`[= =]`, a quantifier with nothing before it.
//! Non-ASCII characters are single characters (`.` takes a whole UTF-8 character).
//!
//! Matching follows POSIX: the leftmost match, and among those starting there the longest
//! (`a|ab` on `ab` is `ab`). Groups are assigned as a backtracking engine would that tries
//! the left branch of `|` first and greedy repetitions first, and keeps the first way it finds
//! to reach that longest end; a group inside a repetition reports its last iteration, and
//! keeps it even if a later iteration takes another branch (`(a|(b))*` on `ba`: group 2 is
//! `b`). That is not always POSIX's subexpression rule (each group leftmost-longest in turn),
//! but the whole match always is.
//!
//! How: the pattern is parsed into a tree and compiled to a small program (at most
//! [`MAX_PROG`] instructions), which runs as a backtracking search with a memo of the
//! (instruction, position) pairs already tried, so no pair is tried twice: the work is at
//! most program size × subject length, whatever the pattern, and [`MAX_STEPS`] bounds it
//! further for the single-threaded proxy.

/// Groups a replacement may name (`\0`..`\9`); later groups group but are not reported.
const GROUPS: usize = 10;
/// Instructions a compiled pattern may have; `{m,n}` copies its operand, so this is what
/// refuses `(a{200}){200}`.
const MAX_PROG: usize = 1000;
/// Nesting of parentheses (the parser and compiler recurse on it).
const MAX_DEPTH: usize = 32;
/// The largest bound of `{m,n}` (POSIX's RE_DUP_MAX).
const DUP_MAX: u32 = 255;
/// Instructions one match may execute, over all start positions. Past it the subject counts
/// as not matching: a subject from the network must not stall the proxy. A typical URI
/// pattern takes well under a thousand; 100 000 take a few milliseconds on a router.
const MAX_STEPS: u32 = 100_000;
/// Size in bits of the memo (program size × (subject length + 1)); a larger subject counts
/// as not matching (at [`MAX_PROG`] that is a subject of 4000 bytes; siproxd's patterns of
/// 20..50 instructions allow 80..200 kB).
const MAX_MEMO: usize = 1 << 22;

/// One instruction of a compiled pattern; jump targets are indexes into the program.
#[derive(Clone, Copy, Debug)]
enum Inst {
    /// One character, compared ignoring ASCII case.
    Char(char),
    /// `.`: any character.
    Any,
    /// A bracket expression or `\d`-style class: an index into `Regex::sets`.
    Set(usize),
    /// `^`: the start of the subject.
    Bol,
    /// `$`: the end of the subject.
    Eol,
    /// Records the position in capture slot N (group N/2, start when even, end when odd).
    Save(usize),
    /// Tries the first target, then (backtracking) the second.
    Split(usize, usize),
    Jmp(usize),
    Match,
}

/// The members of a bracket expression as inclusive character ranges.
#[derive(Debug)]
struct Set {
    negated: bool,
    ranges: Vec<(char, char)>,
}

impl Set {
    fn contains(&self, c: char) -> bool {
        let has = |c: char| self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
        (has(c) || has(c.to_ascii_lowercase()) || has(c.to_ascii_uppercase())) != self.negated
    }
}

/// The POSIX character classes, ASCII only.
const CLASSES: [(&str, &[(char, char)]); 12] = [
    ("alpha", &[('A', 'Z'), ('a', 'z')]),
    ("digit", &[('0', '9')]),
    ("alnum", &[('0', '9'), ('A', 'Z'), ('a', 'z')]),
    ("upper", &[('A', 'Z')]),
    ("lower", &[('a', 'z')]),
    ("space", &[('\t', '\r'), (' ', ' ')]),
    ("blank", &[('\t', '\t'), (' ', ' ')]),
    ("punct", &[('!', '/'), (':', '@'), ('[', '`'), ('{', '~')]),
    ("xdigit", &[('0', '9'), ('A', 'F'), ('a', 'f')]),
    ("cntrl", &[('\0', '\x1f'), ('\x7f', '\x7f')]),
    ("print", &[(' ', '~')]),
    ("graph", &[('!', '~')]),
];

fn class(name: &str) -> Option<&'static [(char, char)]> {
    CLASSES.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// The parsed pattern.
enum Node {
    /// An instruction that stands alone (a character, `.`, a set, an anchor).
    Leaf(Inst),
    /// A parenthesised group and its number (from 1, by its opening parenthesis).
    Group(Box<Node>, usize),
    Cat(Vec<Node>),
    Alt(Vec<Node>),
    /// A repetition `{min,max}`, `None` for no upper bound.
    Rep(Box<Node>, u32, Option<u32>),
}

/// A compiled pattern.
pub struct Regex {
    prog: Vec<Inst>,
    sets: Vec<Set>,
    pattern: String,
}

impl std::fmt::Debug for Regex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Regex({:?})", self.pattern)
    }
}

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegexError(pub String);

impl std::fmt::Display for RegexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Recursive descent over the pattern's characters; errors name the character offset.
struct Parser {
    s: Vec<char>,
    i: usize,
    groups: usize,
    depth: usize,
    sets: Vec<Set>,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.i += 1;
        }
        hit
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.i += usize::from(c.is_some());
        c
    }

    fn err<T>(&self, at: usize, what: &str) -> Result<T, String> {
        Err(format!("{what} at offset {at}"))
    }

    fn alt(&mut self) -> Result<Node, String> {
        let mut branches = vec![self.cat()?];
        while self.eat('|') {
            branches.push(self.cat()?);
        }
        Ok(match branches.pop() {
            Some(only) if branches.is_empty() => only,
            Some(last) => {
                branches.push(last);
                Node::Alt(branches)
            }
            None => Node::Cat(Vec::new()),
        })
    }

    fn cat(&mut self) -> Result<Node, String> {
        let mut items = Vec::new();
        while !matches!(self.peek(), None | Some('|' | ')')) {
            items.push(self.repeat()?);
        }
        Ok(Node::Cat(items))
    }

    fn repeat(&mut self) -> Result<Node, String> {
        let mut node = self.atom()?;
        for stacked in 0.. {
            let at = self.i;
            let Some(q @ ('*' | '+' | '?' | '{')) = self.peek() else {
                break;
            };
            self.i += 1;
            let (min, max) = match q {
                '*' => (0, None),
                '+' => (1, None),
                '?' => (0, Some(1)),
                _ => self.bound(at)?,
            };
            if stacked == 2 {
                return self.err(at, "more than two repetition operators in a row");
            }
            node = Node::Rep(Box::new(node), min, max);
        }
        Ok(node)
    }

    fn number(&mut self) -> Option<u32> {
        let start = self.i;
        let mut n: u32 = 0;
        while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
            n = n.saturating_mul(10).saturating_add(d);
            self.i += 1;
        }
        (self.i > start).then_some(n)
    }

    /// `{m}`, `{m,}`, `{m,n}` or `{,n}`, after the `{` (at `at`).
    fn bound(&mut self, at: usize) -> Result<(u32, Option<u32>), String> {
        let min = self.number();
        let max = if self.eat(',') { self.number() } else { min };
        let lo = min.unwrap_or(0);
        if !self.eat('}')
            || (min.or(max).is_none())
            || lo > DUP_MAX
            || max.is_some_and(|m| m < lo || m > DUP_MAX)
        {
            return self.err(
                at,
                "bad repetition bound (want {m}, {m,} or {m,n} with m <= n <= 255)",
            );
        }
        Ok((lo, max))
    }

    fn atom(&mut self) -> Result<Node, String> {
        let at = self.i;
        let Some(c) = self.next() else {
            return self.err(at, "unexpected end");
        };
        let inst = match c {
            '(' => {
                if self.depth == MAX_DEPTH {
                    return self.err(at, "parentheses nested too deeply");
                }
                self.groups += 1;
                let n = self.groups;
                self.depth += 1;
                let inner = self.alt()?;
                self.depth -= 1;
                if !self.eat(')') {
                    return self.err(at, "unclosed (");
                }
                return Ok(Node::Group(Box::new(inner), n));
            }
            '*' | '+' | '?' | '{' => {
                return self.err(at, "repetition operator with nothing to repeat")
            }
            '[' => self.bracket(at)?,
            '.' => Inst::Any,
            '^' => Inst::Bol,
            '$' => Inst::Eol,
            '\\' => match self.next() {
                None => return self.err(at, "trailing backslash"),
                Some('1'..='9') => return self.err(at, "back-references are not supported"),
                Some('t') => Inst::Char('\t'),
                Some('n') => Inst::Char('\n'),
                Some('r') => Inst::Char('\r'),
                Some(e @ ('d' | 'D' | 's' | 'S' | 'w' | 'W')) => {
                    let name = match e.to_ascii_lowercase() {
                        'd' => "digit",
                        's' => "space",
                        _ => "alnum",
                    };
                    let mut ranges = class(name).unwrap_or_default().to_vec();
                    if e.eq_ignore_ascii_case(&'w') {
                        ranges.push(('_', '_'));
                    }
                    self.set(e.is_ascii_uppercase(), ranges)
                }
                Some(c) => Inst::Char(c),
            },
            c => Inst::Char(c),
        };
        Ok(Node::Leaf(inst))
    }

    fn set(&mut self, negated: bool, ranges: Vec<(char, char)>) -> Inst {
        self.sets.push(Set { negated, ranges });
        Inst::Set(self.sets.len() - 1)
    }

    /// A bracket expression, after its `[` (at `at`).
    fn bracket(&mut self, at: usize) -> Result<Inst, String> {
        let negated = self.eat('^');
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let Some(c) = self.next() else {
                return self.err(at, "unclosed [");
            };
            if c == ']' && !first {
                return Ok(self.set(negated, ranges));
            }
            first = false;
            if c == '[' && matches!(self.peek(), Some('.' | '=')) {
                return self.err(self.i - 1, "collating elements are not supported");
            }
            if c == '[' && self.eat(':') {
                let start = self.i;
                while !(self.peek() == Some(':') && self.s.get(self.i + 1) == Some(&']')) {
                    if self.next().is_none() {
                        return self.err(start - 2, "unclosed [:");
                    }
                }
                let name: String = self
                    .s
                    .get(start..self.i)
                    .unwrap_or_default()
                    .iter()
                    .collect();
                let Some(members) = class(&name) else {
                    return self.err(start - 2, "unknown character class");
                };
                ranges.extend_from_slice(members);
                self.i += 2;
                continue;
            }
            let mut hi = c;
            if self.peek() == Some('-') && !matches!(self.s.get(self.i + 1), None | Some(']')) {
                self.i += 1;
                hi = self.next().unwrap_or(c);
                if hi < c {
                    return self.err(self.i - 3, "range out of order");
                }
            }
            ranges.push((c, hi));
        }
    }
}

fn emit(prog: &mut Vec<Inst>, inst: Inst) -> Result<usize, String> {
    if prog.len() == MAX_PROG {
        return Err(format!(
            "pattern too large (over {MAX_PROG} instructions once repetitions are expanded)"
        ));
    }
    prog.push(inst);
    Ok(prog.len() - 1)
}

/// A `Split` to the next instruction and (once patched) past what follows.
fn split(prog: &mut Vec<Inst>) -> Result<usize, String> {
    emit(prog, Inst::Split(prog.len() + 1, 0))
}

/// Points the open (second) target of the `Split` or `Jmp` at `at` to the end of the program.
fn patch(prog: &mut [Inst], at: usize) {
    let end = prog.len();
    match prog.get_mut(at) {
        Some(Inst::Split(_, to) | Inst::Jmp(to)) => *to = end,
        _ => {}
    }
}

fn compile(prog: &mut Vec<Inst>, node: &Node) -> Result<(), String> {
    match node {
        Node::Leaf(inst) => {
            emit(prog, *inst)?;
        }
        Node::Group(inner, n) => {
            let report = *n < GROUPS;
            if report {
                emit(prog, Inst::Save(2 * n))?;
            }
            compile(prog, inner)?;
            if report {
                emit(prog, Inst::Save(2 * n + 1))?;
            }
        }
        Node::Cat(items) => {
            for item in items {
                compile(prog, item)?;
            }
        }
        Node::Alt(branches) => {
            // Split(b1, L2) b1 Jmp(end) L2: Split(b2, L3) b2 Jmp(end) ... bN end:
            let mut jumps = Vec::new();
            let last = branches.len().saturating_sub(1);
            for (k, branch) in branches.iter().enumerate() {
                let split = (k < last).then(|| split(prog)).transpose()?;
                compile(prog, branch)?;
                if let Some(split) = split {
                    jumps.push(emit(prog, Inst::Jmp(0))?);
                    patch(prog, split);
                }
            }
            for j in jumps {
                patch(prog, j);
            }
        }
        Node::Rep(inner, min, max) => {
            // x{2,} is x x+ (L: x Split(L, end) end:); x* is L: Split(x, end) x Jmp(L) end:;
            // x{2,4} is x x Split(x, end) x Split(x, end) x end:
            let plus = max.is_none() && *min > 0;
            for _ in 0..min - u32::from(plus) {
                compile(prog, inner)?;
            }
            let start = prog.len();
            match max {
                None if plus => {
                    compile(prog, inner)?;
                    emit(prog, Inst::Split(start, prog.len() + 1))?;
                }
                None => {
                    split(prog)?;
                    compile(prog, inner)?;
                    emit(prog, Inst::Jmp(start))?;
                    patch(prog, start);
                }
                Some(max) => {
                    let mut splits = Vec::new();
                    for _ in *min..*max {
                        splits.push(split(prog)?);
                        compile(prog, inner)?;
                    }
                    for s in splits {
                        patch(prog, s);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Work left on the backtracking stack.
enum Job {
    /// Go on at this instruction and subject position.
    Run(usize, usize),
    /// Put this value back into a capture slot (undoing a `Save` on the way back).
    Restore(usize, Option<usize>),
}

impl Regex {
    /// Compiles `pattern` (POSIX extended, case-insensitive).
    pub fn new(pattern: &str) -> Result<Regex, RegexError> {
        let bad = |why: String| RegexError(format!("bad pattern {pattern:?}: {why}"));
        if pattern.contains('\0') {
            return Err(bad("contains a NUL character".into()));
        }
        let mut p = Parser {
            s: pattern.chars().collect(),
            i: 0,
            groups: 0,
            depth: 0,
            sets: Vec::new(),
        };
        let tree = p.alt().map_err(bad)?;
        if p.i < p.s.len() {
            return Err(bad(format!("unmatched ) at offset {}", p.i)));
        }
        let mut prog = Vec::new();
        compile(&mut prog, &tree).map_err(bad)?;
        emit(&mut prog, Inst::Match).map_err(bad)?;
        Ok(Regex {
            prog,
            sets: p.sets,
            pattern: pattern.to_string(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether `inst`, a character-consuming instruction, takes `c`.
    fn takes(&self, inst: Inst, c: char) -> bool {
        match inst {
            Inst::Char(want) => want.eq_ignore_ascii_case(&c),
            Inst::Any => true,
            Inst::Set(k) => self.sets.get(k).is_some_and(|s| s.contains(c)),
            _ => false,
        }
    }

    /// The byte ranges of the whole match (0) and of each group, or `None` without a match.
    /// A subject with a NUL byte never matches (as with the C library's regexec), nor one
    /// that needs more than [`MAX_STEPS`] steps or a memo over [`MAX_MEMO`] bits.
    pub fn captures(&self, subject: &str) -> Option<[Option<(usize, usize)>; GROUPS]> {
        if subject.contains('\0') {
            return None;
        }
        let width = subject.len() + 1;
        let bits = self
            .prog
            .len()
            .checked_mul(width)
            .filter(|&b| b <= MAX_MEMO)?;
        // tried[pc * width + pos]: that pair was run before. From the same start its outcome
        // is known (nothing new); from an earlier start it found no match at all (else we
        // would have stopped), so the memo is kept across start positions.
        let mut tried = vec![0u64; bits / 64 + 1];
        let mut steps = 0;
        let mut stack = Vec::new();
        let mut slots = [None; 2 * GROUPS];
        for start in (0..width).filter(|&i| subject.is_char_boundary(i)) {
            // the longest end so far and the slots of the first path that reached it
            let mut best: Option<(usize, [Option<usize>; 2 * GROUPS])> = None;
            stack.push(Job::Run(0, start));
            while let Some(job) = stack.pop() {
                let (mut pc, mut pos) = match job {
                    Job::Run(pc, pos) => (pc, pos),
                    Job::Restore(k, v) => {
                        if let Some(slot) = slots.get_mut(k) {
                            *slot = v;
                        }
                        continue;
                    }
                };
                loop {
                    let bit = pc * width + pos;
                    let word = tried.get_mut(bit / 64)?;
                    if *word & 1 << (bit % 64) != 0 {
                        break;
                    }
                    *word |= 1 << (bit % 64);
                    steps += 1;
                    if steps > MAX_STEPS {
                        return None;
                    }
                    match *self.prog.get(pc)? {
                        Inst::Bol if pos == 0 => pc += 1,
                        Inst::Eol if pos == subject.len() => pc += 1,
                        Inst::Save(k) => {
                            let old = std::mem::replace(slots.get_mut(k)?, Some(pos));
                            stack.push(Job::Restore(k, old));
                            pc += 1;
                        }
                        Inst::Split(first, second) => {
                            stack.push(Job::Run(second, pos));
                            pc = first;
                        }
                        Inst::Jmp(to) => pc = to,
                        Inst::Match => {
                            if best.is_none_or(|(end, _)| pos > end) {
                                best = Some((pos, slots));
                            }
                            break;
                        }
                        inst => match subject.get(pos..).and_then(|s| s.chars().next()) {
                            Some(c) if self.takes(inst, c) => {
                                pc += 1;
                                pos += c.len_utf8();
                            }
                            _ => break,
                        },
                    }
                }
                if best.is_some_and(|(end, _)| end == subject.len()) {
                    break; // nothing can be longer
                }
            }
            if let Some((end, slots)) = best {
                // slots 0 and 1 are never saved: group 0 is the whole match
                let mut out = [None; GROUPS];
                for (g, o) in out.iter_mut().enumerate() {
                    *o = match (slots.get(2 * g), slots.get(2 * g + 1)) {
                        _ if g == 0 => Some((start, end)),
                        (Some(Some(s)), Some(Some(e))) => Some((*s, *e)),
                        _ => None,
                    };
                }
                return Some(out);
            }
        }
        None
    }

    pub fn is_match(&self, subject: &str) -> bool {
        self.captures(subject).is_some()
    }

    /// siproxd's substitution: the matched part of `subject` replaced by `replacement` with
    /// `\N` naming group N (an unmatched group is empty), the rest of `subject` kept. `None`
    /// when the pattern does not match.
    pub fn replace(&self, subject: &str, replacement: &str) -> Option<String> {
        let caps = self.captures(subject)?;
        let (ms, me) = caps.first().copied().flatten()?;
        let mut out = String::with_capacity(subject.len() + replacement.len());
        out.push_str(subject.get(..ms)?);
        let mut chars = replacement.chars().peekable();
        while let Some(ch) = chars.next() {
            match (ch, chars.peek().and_then(|d| d.to_digit(10))) {
                ('\\', Some(d)) => {
                    chars.next();
                    let group = caps.get(d as usize).copied().flatten();
                    if let Some((s, e)) = group {
                        out.push_str(subject.get(s..e).unwrap_or_default());
                    }
                }
                _ => out.push(ch),
            }
        }
        out.push_str(subject.get(me..)?);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_case_insensitive_with_groups() {
        let r = Regex::new("^sip:\\+?49([0-9]+)@(.*)$").unwrap();
        assert!(r.is_match("SIP:+4930123@example.com"));
        assert_eq!(
            r.replace("sip:+4930123@example.com", "sip:0\\1@\\2")
                .unwrap(),
            "sip:030123@example.com"
        );
        assert_eq!(r.replace("sip:0301@example.com", "x"), None);
    }

    #[test]
    fn the_unmatched_rest_is_kept_and_missing_groups_are_empty() {
        let r = Regex::new("0049").unwrap();
        assert_eq!(r.replace("sip:004930@h", "+49\\3").unwrap(), "sip:+4930@h");
        let r = Regex::new("^(a)|(b)$").unwrap();
        assert_eq!(r.replace("b", "[\\1\\2]").unwrap(), "[b]");
    }

    #[test]
    fn bad_patterns_and_odd_subjects_are_errors_not_panics() {
        let e = Regex::new("(unclosed").unwrap_err();
        assert!(e.0.contains("(unclosed"), "{e}");
        assert!(Regex::new("a\0b").is_err());
        let r = Regex::new(".*").unwrap();
        assert!(!r.is_match("a\0b"));
        assert_eq!(r.replace("", "x").unwrap(), "x");
        assert_eq!(r.replace("ü", "\\0\\0").unwrap(), "üü");
    }
}
