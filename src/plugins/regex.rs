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
//! `+` `?` `{m}` `{m,}` `{m,n}` (`{,n}` as `{0,n}`, bounds up to 255; `a+?` is `(a+)?`),
//! backslash escapes (`\.` etc. are the character itself; also `\t` `\n` `\r` and, as in
//! musl's TRE, the shorthands `\d` `\D` `\s` `\S` `\w` `\W`). Refused with an error:
//! back-references `\1`..`\9`, collating elements `[. .]`/`[= =]`, a quantifier with nothing
//! before it.
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
//! How: the pattern is compiled while it is parsed to a small program (at most
//! [`MAX_PROG`] instructions), which runs as a backtracking search with a memo of the
//! (instruction, position) pairs already tried, so no pair is tried twice: the work is at
//! most program size × subject length, whatever the pattern, and [`MAX_STEPS`] bounds it
//! further for the single-threaded proxy. Memory per match: the memo (at most [`MAX_MEMO`]
//! bits, 512 kB; a few hundred bytes for a URI) and the backtracking stack (at most one
//! entry per step).

/// Groups a replacement may name (`\0`..`\9`); later groups group but are not reported.
const GROUPS: usize = 10;
/// Instructions a compiled pattern may have; `{m,n}` copies its operand, so this is what
/// refuses `(a{200}){200}`.
const MAX_PROG: usize = 1000;
/// Nesting of parentheses (the parser recurses on it).
const MAX_DEPTH: usize = 32;
/// A syntax error: the character offset and what is wrong there.
type Fail = (usize, &'static str);
const TOO_LARGE: &str = "pattern too large (over 1000 instructions once repetitions are expanded)";
/// The largest bound of `{m,n}` (POSIX's RE_DUP_MAX).
const DUP_MAX: u32 = 255;
/// Instructions one match may execute, over all start positions. Past it the subject counts
/// as not matching: a subject from the network must not stall the proxy. A typical URI
/// pattern takes well under a thousand (0.5 µs on a PC); 100 000 take 0.4 ms on a PC, so
/// roughly 10 ms on a MIPS 24Kc router (estimated, not measured there).
pub const MAX_STEPS: u32 = 100_000;
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

/// Recursive descent over the pattern's characters, emitting the program as it goes; errors
/// name the character offset.
struct Parser {
    s: Vec<char>,
    i: usize,
    groups: usize,
    depth: usize,
    prog: Vec<Inst>,
    sets: Vec<Set>,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        let hit = self.peek() == Some(c);
        self.i += usize::from(hit);
        hit
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.i += usize::from(c.is_some());
        c
    }

    /// Appends `inst` and gives its index. The size is checked where code is copied and
    /// once at the end: elsewhere the program grows at most a few instructions per
    /// character of the pattern.
    fn emit(&mut self, inst: Inst) -> usize {
        self.prog.push(inst);
        self.prog.len() - 1
    }

    /// A `Split` to the next instruction and (once patched) past what follows.
    fn split(&mut self) -> usize {
        self.emit(Inst::Split(self.prog.len() + 1, 0))
    }

    /// Points the open (second) target of the `Split` or `Jmp` at `at` to the end.
    fn patch(&mut self, at: usize) {
        let end = self.prog.len();
        if let Some(Inst::Split(_, to) | Inst::Jmp(to)) = self.prog.get_mut(at) {
            *to = end;
        }
    }

    /// Appends a copy of `body`, code that was at `from`, with its jumps moved along (they
    /// all point into the body or just past it).
    fn copy(&mut self, body: &[Inst], from: usize) -> Result<(), Fail> {
        let base = self.prog.len();
        if base + body.len() > MAX_PROG {
            return Err((self.i, TOO_LARGE));
        }
        let moved = |to: usize| to + base - from;
        for inst in body {
            self.emit(match *inst {
                Inst::Split(a, b) => Inst::Split(moved(a), moved(b)),
                Inst::Jmp(a) => Inst::Jmp(moved(a)),
                other => other,
            });
        }
        Ok(())
    }

    /// Branches: `Split(b1, L2) b1 Jmp(end) L2: Split(b2, L3) b2 Jmp(end) ... bN end:`
    /// (the split before the last branch just goes on).
    fn alt(&mut self) -> Result<(), Fail> {
        let mut jumps = Vec::new();
        loop {
            let split = self.split();
            while !matches!(self.peek(), None | Some('|' | ')')) {
                self.repeat()?;
            }
            if !self.eat('|') {
                if let Some(inst) = self.prog.get_mut(split) {
                    *inst = Inst::Jmp(split + 1);
                }
                break;
            }
            jumps.push(self.emit(Inst::Jmp(0)));
            self.patch(split);
        }
        for j in jumps {
            self.patch(j);
        }
        Ok(())
    }

    /// An atom and its repetitions. The atom's code is taken out and put back as often as
    /// needed: `x{2,}` is `x L: x Split(L, end)`, `x*` is `L: Split(x, end) x Jmp(L)`,
    /// `x{1,3}` is `x Split(x, end) x Split(x, end) x end:`.
    fn repeat(&mut self) -> Result<(), Fail> {
        let from = self.prog.len();
        self.atom()?;
        while let Some(q @ ('*' | '+' | '?' | '{')) = self.peek() {
            let at = self.i;
            self.i += 1;
            let (min, max) = match q {
                '*' => (0, None),
                '+' => (1, None),
                '?' => (0, Some(1)),
                _ => self.bound(at)?,
            };
            let body = self.prog.get(from..).unwrap_or_default().to_vec();
            self.prog.truncate(from);
            let plus = max.is_none() && min > 0;
            for _ in 0..min - u32::from(plus) {
                self.copy(&body, from)?;
            }
            let start = self.prog.len();
            match max {
                None if plus => {
                    self.copy(&body, from)?;
                    self.emit(Inst::Split(start, self.prog.len() + 1));
                }
                None => {
                    self.split();
                    self.copy(&body, from)?;
                    self.emit(Inst::Jmp(start));
                    self.patch(start);
                }
                Some(max) => {
                    let mut splits = Vec::new();
                    for _ in min..max {
                        splits.push(self.split());
                        self.copy(&body, from)?;
                    }
                    for s in splits {
                        self.patch(s);
                    }
                }
            }
        }
        Ok(())
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
    fn bound(&mut self, at: usize) -> Result<(u32, Option<u32>), Fail> {
        let min = self.number();
        let max = if self.eat(',') { self.number() } else { min };
        let lo = min.unwrap_or(0);
        if !self.eat('}')
            || min.or(max).is_none()
            || lo > DUP_MAX
            || max.is_some_and(|m| m < lo || m > DUP_MAX)
        {
            return Err((
                at,
                "bad repetition bound (want {m}, {m,} or {m,n} with m <= n <= 255)",
            ));
        }
        Ok((lo, max))
    }

    fn atom(&mut self) -> Result<(), Fail> {
        let at = self.i;
        let inst = match self.next() {
            Some('(') => {
                if self.depth == MAX_DEPTH {
                    return Err((at, "parentheses nested too deeply"));
                }
                self.groups += 1;
                let slot = 2 * self.groups;
                let report = slot < 2 * GROUPS;
                if report {
                    self.emit(Inst::Save(slot));
                }
                self.depth += 1;
                self.alt()?;
                self.depth -= 1;
                if !self.eat(')') {
                    return Err((at, "unclosed ("));
                }
                if report {
                    self.emit(Inst::Save(slot + 1));
                }
                return Ok(());
            }
            Some('*' | '+' | '?' | '{') | None => {
                return Err((at, "repetition operator with nothing to repeat"))
            }
            Some('[') => self.bracket(at)?,
            Some('.') => Inst::Any,
            Some('^') => Inst::Bol,
            Some('$') => Inst::Eol,
            Some('\\') => match self.next() {
                None => return Err((at, "trailing backslash")),
                Some('1'..='9') => return Err((at, "back-references are not supported")),
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
            Some(c) => Inst::Char(c),
        };
        self.emit(inst);
        Ok(())
    }

    fn set(&mut self, negated: bool, ranges: Vec<(char, char)>) -> Inst {
        self.sets.push(Set { negated, ranges });
        Inst::Set(self.sets.len() - 1)
    }

    /// A bracket expression, after its `[` (at `at`).
    fn bracket(&mut self, at: usize) -> Result<Inst, Fail> {
        let negated = self.eat('^');
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let Some(c) = self.next() else {
                return Err((at, "unclosed ["));
            };
            if c == ']' && !first {
                return Ok(self.set(negated, ranges));
            }
            first = false;
            if c == '[' && matches!(self.peek(), Some('.' | '=')) {
                return Err((self.i - 1, "collating elements are not supported"));
            }
            if c == '[' && self.eat(':') {
                let start = self.i;
                while !(self.peek() == Some(':') && self.s.get(self.i + 1) == Some(&']')) {
                    if self.next().is_none() {
                        return Err((start - 2, "unclosed [:"));
                    }
                }
                let name: String = self
                    .s
                    .get(start..self.i)
                    .unwrap_or_default()
                    .iter()
                    .collect();
                let Some(members) = class(&name) else {
                    return Err((start - 2, "unknown character class"));
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
                    return Err((self.i - 3, "range out of order"));
                }
            }
            ranges.push((c, hi));
        }
    }
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
        let bad = |(at, what): Fail| {
            RegexError(format!(
                "bad pattern {}: {what} at offset {at}",
                crate::logging::Quoted(pattern)
            ))
        };
        let mut p = Parser {
            s: pattern.chars().collect(),
            i: 0,
            groups: 0,
            depth: 0,
            prog: Vec::new(),
            sets: Vec::new(),
        };
        if let Some(at) = p.s.iter().position(|&c| c == '\0') {
            return Err(bad((at, "NUL character")));
        }
        p.alt().map_err(bad)?;
        if p.i < p.s.len() {
            return Err(bad((p.i, "unmatched )")));
        }
        p.emit(Inst::Match);
        if p.prog.len() > MAX_PROG {
            return Err(bad((p.i, TOO_LARGE)));
        }
        Ok(Regex {
            prog: p.prog,
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
        self.captures_in(subject, &mut Scratch::default())
    }

    /// [`Regex::captures`] with the memo and stack in `scratch`, which keeps its memory for
    /// the next match (a plugin owns one: no allocation per message once it has grown to the
    /// subjects seen).
    pub fn captures_in(
        &self,
        subject: &str,
        scratch: &mut Scratch,
    ) -> Option<[Option<(usize, usize)>; GROUPS]> {
        self.captures_budget(subject, scratch, &mut 0)
    }

    /// [`Regex::captures_in`] that counts its steps into `steps`, so that several matches
    /// against one subject (replacing every occurrence) share one [`MAX_STEPS`] budget.
    pub fn captures_budget(
        &self,
        subject: &str,
        scratch: &mut Scratch,
        steps: &mut u32,
    ) -> Option<[Option<(usize, usize)>; GROUPS]> {
        let r = self.run(subject, scratch, steps);
        scratch.trim();
        r
    }

    fn run(
        &self,
        subject: &str,
        scratch: &mut Scratch,
        steps: &mut u32,
    ) -> Option<[Option<(usize, usize)>; GROUPS]> {
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
        let Scratch { tried, stack } = scratch;
        tried.clear();
        tried.resize(bits / 64 + 1, 0);
        stack.clear();
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
                    *steps += 1;
                    if *steps > MAX_STEPS {
                        return None;
                    }
                    match *self.prog.get(pc)? {
                        Inst::Bol if pos == 0 => pc += 1,
                        Inst::Eol if pos == subject.len() => pc += 1,
                        Inst::Save(k) => {
                            let old = slots.get_mut(k)?.replace(pos);
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
        let mut out = String::new();
        self.replace_into(subject, replacement, &mut out, &mut Scratch::default())?;
        Some(out)
    }

    /// [`Regex::replace`] into `out` (cleared first), with `scratch` for the match.
    pub fn replace_into(
        &self,
        subject: &str,
        replacement: &str,
        out: &mut String,
        scratch: &mut Scratch,
    ) -> Option<()> {
        let caps = self.captures_in(subject, scratch)?;
        let (ms, me) = caps.first().copied().flatten()?;
        out.clear();
        out.push_str(subject.get(..ms)?);
        expand(replacement, subject, &caps, |s| {
            out.push_str(s);
            Some(())
        })?;
        out.push_str(subject.get(me..)?);
        Some(())
    }
}

/// `replacement` with `\N` expanded from the groups `caps` of a match in `subject`, handed
/// piece by piece to `put` (which may refuse, ending the expansion with `None`).
pub fn expand(
    replacement: &str,
    subject: &str,
    caps: &[Option<(usize, usize)>],
    mut put: impl FnMut(&str) -> Option<()>,
) -> Option<()> {
    let mut rest = replacement;
    while let Some(i) = rest.find('\\') {
        let (lit, tail) = rest.split_at(i);
        put(lit)?;
        let mut t = tail.chars();
        t.next();
        match t.next().and_then(|d| d.to_digit(10)) {
            Some(d) => {
                if let Some(Some((s, e))) = caps.get(d as usize) {
                    put(subject.get(*s..*e).unwrap_or_default())?;
                }
                rest = tail.get(2..).unwrap_or_default();
            }
            None => {
                put("\\")?;
                rest = tail.get(1..).unwrap_or_default();
            }
        }
    }
    put(rest)
}

/// The memory of one match (the memo of tried pairs and the backtracking stack), kept
/// between matches. What a pathological subject made it grow to beyond [`SCRATCH_KEEP`]
/// bytes each is given back afterwards.
#[derive(Default)]
pub struct Scratch {
    tried: Vec<u64>,
    stack: Vec<Job>,
}

/// Plugins are `Debug`; their matcher's memory is not worth showing.
impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scratch")
    }
}

/// Bytes of memo and of stack a [`Scratch`] keeps between matches: a 16 kB body against a
/// pattern of 30 instructions, or a URI against the largest pattern.
const SCRATCH_KEEP: usize = 64 * 1024;

impl Scratch {
    fn trim(&mut self) {
        self.tried.shrink_to(SCRATCH_KEEP / 8);
        self.stack
            .shrink_to(SCRATCH_KEEP / std::mem::size_of::<Job>());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_budget_adds_up_the_steps_of_several_matches() {
        let re = Regex::new("a").unwrap();
        let mut scratch = Scratch::default();
        let mut steps = 0;
        assert!(re
            .captures_budget("xxa", &mut scratch, &mut steps)
            .is_some());
        let one = steps;
        assert!(one > 0);
        assert!(re
            .captures_budget("xxa", &mut scratch, &mut steps)
            .is_some());
        assert_eq!(steps, 2 * one);
        // A budget already spent stops the next match.
        let mut spent = MAX_STEPS;
        assert!(re
            .captures_budget("xxa", &mut scratch, &mut spent)
            .is_none());
    }

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

#[cfg(test)]
mod construct_tests {
    use super::*;

    /// The whole match of `pattern` in `subject`, as a string.
    fn find<'s>(pattern: &str, subject: &'s str) -> Option<&'s str> {
        let (s, e) = Regex::new(pattern).unwrap().captures(subject)?[0]?;
        Some(&subject[s..e])
    }

    fn group<'s>(pattern: &str, subject: &'s str, n: usize) -> Option<&'s str> {
        let (s, e) = Regex::new(pattern).unwrap().captures(subject)?[n]?;
        Some(&subject[s..e])
    }

    fn error(pattern: &str) -> String {
        Regex::new(pattern).unwrap_err().0
    }

    #[test]
    fn literals_and_dot_ignore_ascii_case() {
        assert_eq!(find("bc", "abcd"), Some("bc"));
        assert_eq!(find("BC", "abcd"), Some("bc"));
        assert_eq!(find("bc", "ABCD"), Some("BC"));
        assert_eq!(find("bd", "abcd"), None);
        assert_eq!(find("a.c", "xabcx"), Some("abc"));
        assert_eq!(find("a.c", "a\nc"), Some("a\nc"));
        assert_eq!(find("a.c", "ac"), None);
        // a non-ASCII character is one character for `.` and compares exactly
        assert_eq!(find("^.$", "ü"), Some("ü"));
        assert_eq!(find("^..$", "ü"), None);
        assert_eq!(find("Ü", "ü"), None);
        assert_eq!(find("grüß", "xGRüßx"), Some("GRüß"));
        assert_eq!(find("", "abc"), Some(""));
    }

    #[test]
    fn bracket_expressions() {
        assert_eq!(find("[abc]+", "xxcabz"), Some("cab"));
        assert_eq!(find("[a-c]+", "xxCaBz"), Some("CaB"));
        assert_eq!(find("[A-C]+", "xxcabz"), Some("cab"));
        assert_eq!(find("[^a-c]+", "abcxyzabc"), Some("xyz"));
        assert_eq!(
            find("[^a]", "A"),
            None,
            "negation applies after case folding"
        );
        assert_eq!(find("[]a]+", "x]a]x"), Some("]a]"));
        assert_eq!(find("[^]a]+", "]]xy]"), Some("xy"));
        assert_eq!(find("[a-]+", "x-a-x"), Some("-a-"));
        assert_eq!(find("[-a]+", "x-a-x"), Some("-a-"));
        assert_eq!(
            find("[\\.]+", "a\\.b"),
            Some("\\."),
            "backslash is literal in brackets"
        );
        assert_eq!(find("[.]", "ab"), None);
        assert_eq!(find("[0-9a-f]+", "zz09AfG"), Some("09Af"));
        assert_eq!(find("[äö]+", "xöäx"), Some("öä"));
        assert_eq!(find("[^ä]", "ä"), None);
        assert_eq!(find("[^a]", "ä"), Some("ä"));
    }

    #[test]
    fn character_classes() {
        let all: String = (' '..='~').chain("\t\n\r\x0b\x0c".chars()).collect();
        let members = |class: &str| -> String {
            let r = Regex::new(&format!("^[[:{class}:]]$")).unwrap();
            all.chars().filter(|c| r.is_match(&c.to_string())).collect()
        };
        let upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let lower = "abcdefghijklmnopqrstuvwxyz";
        let letters = format!("{upper}{lower}");
        assert_eq!(members("alpha"), letters);
        assert_eq!(members("digit"), "0123456789");
        assert_eq!(members("alnum"), format!("0123456789{letters}"));
        // case-insensitive, as musl's regex with REG_ICASE: upper and lower are the letters
        assert_eq!(members("upper"), letters);
        assert_eq!(members("lower"), letters);
        assert_eq!(members("space"), " \t\n\r\x0b\x0c");
        assert_eq!(members("blank"), " \t");
        assert_eq!(members("xdigit"), "0123456789ABCDEFabcdef");
        assert_eq!(members("punct"), "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");
        assert_eq!(members("graph").len(), 94);
        assert_eq!(members("print").len(), 95);
        assert_eq!(members("cntrl"), "\t\n\r\x0b\x0c");
        assert_eq!(find("[^[:digit:][:space:]]+", "12 ab3"), Some("ab"));
        assert_eq!(find("[[:digit:]x-z]+", "a1y2zb"), Some("1y2z"));
        assert_eq!(find("[[:alpha:]]", "é"), None, "the classes are ASCII");
        // the musl (TRE) shorthands
        assert_eq!(find("\\d+", "ab123c"), Some("123"));
        assert_eq!(find("\\D+", "12ab3"), Some("ab"));
        assert_eq!(find("\\w+", "  a_1-"), Some("a_1"));
        assert_eq!(find("\\W+", "ab -c"), Some(" -"));
        assert_eq!(find("\\s+", "a \t b"), Some(" \t "));
        assert_eq!(find("\\S+", "  ab "), Some("ab"));
        assert_eq!(find("a\\tb", "a\tb"), Some("a\tb"));
    }

    #[test]
    fn anchors() {
        assert_eq!(find("^ab", "abab"), Some("ab"));
        assert_eq!(find("^b", "ab"), None);
        assert_eq!(find("b$", "abab").map(str::len), Some(1));
        assert_eq!(group("(b)$", "abab", 1).map(|_| ()), Some(()));
        assert_eq!(
            Regex::new("b$").unwrap().captures("abab").unwrap()[0],
            Some((3, 4))
        );
        assert_eq!(find("a$", "ab"), None);
        assert_eq!(find("^$", ""), Some(""));
        assert_eq!(find("^$", "a"), None);
        // anywhere in ERE, so these never match
        assert_eq!(find("a^b", "a^b"), None);
        assert_eq!(find("a$b", "a$b"), None);
        assert_eq!(find("(^a|b)", "ba"), Some("b"));
        assert_eq!(find("x|^a", "ba"), None);
    }

    #[test]
    fn groups_and_alternation() {
        let r = Regex::new("^(sip|sips):([^@]+)@(.*)$").unwrap();
        let c = r.captures("sips:alice@example.com").unwrap();
        assert_eq!(c[1], Some((0, 4)));
        assert_eq!(c[2], Some((5, 10)));
        assert_eq!(c[3], Some((11, 22)));
        assert_eq!(c[4], None);
        assert_eq!(find("cat|dog|bird", "a dog"), Some("dog"));
        assert_eq!(find("a(|b)c", "ac"), Some("ac"), "an empty branch");
        assert_eq!(find("a()c", "ac"), Some("ac"), "an empty group");
        // groups are numbered by their opening parenthesis
        assert_eq!(group("((a)(b))", "ab", 1), Some("ab"));
        assert_eq!(group("((a)(b))", "ab", 2), Some("a"));
        assert_eq!(group("((a)(b))", "ab", 3), Some("b"));
        // a group that did not take part is None, a group that matched empty is Some
        assert_eq!(group("(a)|(b)", "b", 1), None);
        assert_eq!(group("(a*)b", "b", 1), Some(""));
        // a repeated group reports its last iteration
        assert_eq!(group("(a|b)+", "abba", 1), Some("a"));
        assert_eq!(group("([0-9])+x", "123x", 1), Some("3"));
        // ten and more groups group, only 1..9 are reported
        let r = Regex::new("(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)").unwrap();
        let c = r.captures("abcdefghijk").unwrap();
        assert_eq!(c[0], Some((0, 11)));
        assert_eq!(c[9], Some((8, 9)));
        assert_eq!(r.replace("abcdefghijk", "\\9\\1").unwrap(), "ia");
    }

    #[test]
    fn quantifiers() {
        assert_eq!(find("ab*c", "xacx"), Some("ac"));
        assert_eq!(find("ab*c", "xabbbcx"), Some("abbbc"));
        assert_eq!(find("ab+c", "xacx"), None);
        assert_eq!(find("ab+c", "xabbcx"), Some("abbc"));
        assert_eq!(find("ab?c", "abc ac"), Some("abc"));
        assert_eq!(find("ab?c", "abbc"), None);
        assert_eq!(find("a{3}", "aaaaa"), Some("aaa"));
        assert_eq!(find("^a{3}$", "aa"), None);
        assert_eq!(find("a{2,}", "aaaaa"), Some("aaaaa"));
        assert_eq!(find("^a{2,}$", "a"), None);
        assert_eq!(find("a{2,3}", "aaaaa"), Some("aaa"));
        assert_eq!(find("^a{2,3}$", "aaaa"), None);
        assert_eq!(find("^a{,2}$", "aa"), Some("aa"));
        assert_eq!(find("^a{,2}$", "aaa"), None);
        assert_eq!(find("^a{0}b$", "b"), Some("b"));
        assert_eq!(find("^(ab){2}$", "ABab"), Some("ABab"));
        assert_eq!(find("^[0-9]{3,5}$", "1234"), Some("1234"));
        assert_eq!(find("^[0-9]{3,5}$", "123456"), None);
        // a repetition of a repetition, as (a+)?
        assert_eq!(find("^a+?$", "aaa"), Some("aaa"));
        assert_eq!(find("^a+?$", ""), Some(""));
        // repeating what matches empty terminates
        assert_eq!(find("^(a*)*$", "aaa"), Some("aaa"));
        assert_eq!(find("^(a*)+b$", "aab"), Some("aab"));
        assert_eq!(find("(|a)*", "aa"), Some("aa"));
        assert_eq!(find("(^)*a", "ba"), Some("a"));
    }

    #[test]
    fn escapes_of_special_characters_are_literals() {
        for c in ".[]()*+?{}|^$\\".chars() {
            let pattern = format!("x\\{c}y");
            assert_eq!(
                find(&pattern, &format!("ax{c}yb")),
                Some(&*format!("x{c}y")),
                "{pattern}"
            );
            assert_eq!(find(&pattern, "axzyb"), None, "{pattern}");
        }
        // outside a bracket `]` and `}` are ordinary characters
        assert_eq!(find("a]}", "a]}"), Some("a]}"));
        assert_eq!(find("\\+49", "00+4930"), Some("+49"));
    }

    #[test]
    fn leftmost_then_longest() {
        assert_eq!(find("a|ab", "ab"), Some("ab"));
        assert_eq!(find("ab|a", "ab"), Some("ab"));
        assert_eq!(find("(a|ab)(c|bcd)", "abcd"), Some("abcd"));
        assert_eq!(group("(a|ab)(c|bcd)", "abcd", 1), Some("a"));
        assert_eq!(group("(a|ab)(c|bcd)", "abcd", 2), Some("bcd"));
        assert_eq!(find("(a|ab)(bc|c)?", "abc"), Some("abc"));
        // leftmost wins over longer later matches, even when empty
        assert_eq!(find("b+|a", "abbb"), Some("a"));
        assert_eq!(find("x*", "aaxx"), Some(""));
        assert_eq!(find("[0-9]+", "ab12cd345"), Some("12"));
        // the longest even when the greedy first try is shorter
        assert_eq!(find("(a|ab)(c|bcd)(d*)", "abcd"), Some("abcd"));
        assert_eq!(find("a?(ab)?", "ab"), Some("ab"));
        assert_eq!(group("a?(ab)?", "ab", 1), Some("ab"));
        assert_eq!(find("(.*)@(.*)", "a@b@c"), Some("a@b@c"));
        // groups: the first way (greedy, left branch first) to reach the longest end
        assert_eq!(group("(.*)@(.*)", "a@b@c", 1), Some("a@b"));
        assert_eq!(group("(a*)(a*)", "aaa", 1), Some("aaa"));
        assert_eq!(group("(a*)(a*)", "aaa", 2), Some(""));
        assert_eq!(group("(a+)(a*)", "aaa", 1), Some("aaa"));
        assert_eq!(group("(a{1,2})(a*)", "aaa", 1), Some("aa"));
        assert_eq!(group("(a?)(a*)", "aaa", 1), Some("a"));
        assert_eq!(group("(a|aa)(a*)", "aaa", 1), Some("a"));
        assert_eq!(group("(a|(b))*", "ba", 2), Some("b"));
    }

    #[test]
    fn bad_patterns_are_errors_naming_the_problem() {
        for (pattern, why) in [
            ("(unclosed", "unclosed ( at offset 0"),
            ("a(b(c)", "unclosed ( at offset 1"),
            ("a)", "unmatched ) at offset 1"),
            ("[abc", "unclosed ["),
            ("[]", "unclosed ["),
            ("[^]", "unclosed ["),
            ("[[:alpha:]", "unclosed ["),
            ("[[:alpha]", "unclosed [:"),
            ("[[:foo:]]", "unknown character class"),
            ("[[.a.]]", "collating elements"),
            ("[[=a=]]", "collating elements"),
            ("[z-a]", "range out of order"),
            ("*a", "nothing to repeat"),
            ("a|*", "nothing to repeat"),
            ("(+a)", "nothing to repeat"),
            ("{1}", "nothing to repeat"),
            ("a{", "bad repetition bound"),
            ("a{1", "bad repetition bound"),
            ("a{x}", "bad repetition bound"),
            ("a{}", "bad repetition bound"),
            ("a{,}", "bad repetition bound"),
            ("a{2,1}", "bad repetition bound"),
            ("a{256}", "bad repetition bound"),
            ("a{1,256}", "bad repetition bound"),
            ("a{99999999999}", "bad repetition bound"),
            ("a\\", "trailing backslash"),
            ("(a)\\1", "back-references"),
            ("a\0b", "NUL"),
            ("(a{255}){5}", "pattern too large"),
            ("((a{200}){200}){200}", "pattern too large"),
        ] {
            let e = error(pattern);
            assert!(e.contains(why), "{pattern:?}: {e}");
            assert!(e.starts_with(&format!("bad pattern {pattern:?}: ")), "{e}");
        }
        let deep = format!("{}a{}", "(".repeat(32), ")".repeat(32));
        assert_eq!(find(&deep, "a"), Some("a"));
        let deeper = format!("{}a{}", "(".repeat(33), ")".repeat(33));
        assert!(error(&deeper).contains("nested too deeply"));
        let deepest = "(".repeat(100_000);
        assert!(error(&deepest).contains("nested too deeply"));
        assert!(TOO_LARGE.contains(&format!(" {MAX_PROG} ")));
        // just under the program limit is fine
        assert!(Regex::new("a{255}b{255}c{255}d{200}").is_ok());
    }

    #[test]
    fn pathological_patterns_finish_and_the_step_budget_gives_up() {
        // exponential for a plain backtracker; the memo makes it program size × length
        let a = "a".repeat(2048);
        assert!(!Regex::new("(a*)*b").unwrap().is_match(&a));
        assert!(Regex::new("(a*)*b").unwrap().is_match(&format!("{a}b")));
        assert!(!Regex::new("(a|aa)+$x").unwrap().is_match(&a));
        assert!(!Regex::new("^(a+)+$").unwrap().is_match(&format!("{a}!")));
        // a long URI with a typical pattern is far under the budget
        let uri = format!("sip:{}@example.com", "1".repeat(2000));
        let r = Regex::new("^sips?:\\+?([0-9]+)@(.*)$").unwrap();
        assert_eq!(r.replace(&uri, "\\2").unwrap(), "example.com");
        // (x?){100}y needs about 400 × 1000 steps to find no y: past the budget, the
        // subject counts as not matching even though it does (the y is at the end)
        let r = Regex::new("(x?){100}y").unwrap();
        assert!(r.is_match(&format!("{}y", "x".repeat(150))));
        assert!(!r.is_match(&format!("{}y", "x".repeat(1000))));
        // a memo too large for the subject: no match either
        let r = Regex::new("a{255}b{255}c{255}d{200}|e").unwrap();
        assert!(r.is_match(&"e".repeat(4000)));
        assert!(!r.is_match(&"e".repeat(5000)));
    }

    proptest::proptest! {
        /// Alternations of literals against a direct search: the leftmost start, and there
        /// the longest alternative, ignoring ASCII case.
        #[test]
        fn literal_alternations_match_like_a_plain_search(
            lits in proptest::collection::vec("[abAB]{1,4}", 1..4),
            subject in "[abAB]{0,20}",
        ) {
            let r = Regex::new(&lits.join("|")).unwrap();
            let expected = (0..=subject.len()).find_map(|start| {
                let rest = &subject[start..];
                lits.iter()
                    .filter(|l| rest.len() >= l.len() && rest[..l.len()].eq_ignore_ascii_case(l))
                    .map(|l| (start, start + l.len()))
                    .max()
            });
            proptest::prop_assert_eq!(r.captures(&subject).map(|c| c[0].unwrap()), expected);
        }

        /// Any pattern and subject: an error or ranges on character boundaries, never a panic.
        #[test]
        fn any_pattern_and_subject_never_panic(
            pattern in "[ab.ü()|*+?{}0-9,^$\\\\\\[\\]:alph-]{0,24}",
            subject in "[abü0-9{}()]{0,30}",
        ) {
            if let Ok(r) = Regex::new(&pattern) {
                if let Some(c) = r.captures(&subject) {
                    for (s, e) in c.iter().flatten() {
                        proptest::prop_assert!(s <= e && subject.get(*s..*e).is_some());
                    }
                    proptest::prop_assert!(c[0].is_some());
                }
            }
        }

        /// The whole match against a reference that reads the pattern directly (below), on
        /// random strings of the pattern characters...
        #[test]
        fn whole_matches_are_the_leftmost_longest_of_a_reference(
            pattern in "[abAB.()|*+?^$]{1,6}|[ab()|*+?{}1-3,]{1,12}",
            subject in "[abAB]{0,10}",
        ) {
            against_reference(&pattern, &subject)?;
        }

        /// ... and on patterns built of groups, alternations and repetitions.
        #[test]
        fn whole_matches_of_built_patterns_are_those_of_the_reference(
            pieces in proptest::collection::vec((
                proptest::sample::select(&["a", "b", ".", "^", "$", "(a|b)", "(ab|a)", "(|a)",
                    "(a*)", "(a|ab)(b|ba)", "((a|b)+b)", "(a(b)?)", "()", "(a|b|)"][..]),
                proptest::sample::select(&["", "", "*", "+", "?", "{2}", "{1,2}", "{0,}",
                    "{,2}", "*?", "{0}"][..]),
            ), 1..5),
            subject in "[abAB]{0,10}",
        ) {
            let pattern: String = pieces.iter().map(|(p, q)| format!("{p}{q}")).collect();
            against_reference(&pattern, &subject)?;
        }
    }

    /// The leftmost start where the reference finds an end, and its largest end, is the
    /// whole match; what the reference reads, `new` accepts.
    fn against_reference(
        pattern: &str,
        subject: &str,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let re = Reference {
            p: pattern.as_bytes(),
            s: subject.as_bytes(),
        };
        let parsed = re
            .alt(0, &[0].into())
            .filter(|&(_, end)| end == pattern.len());
        match Regex::new(pattern) {
            Ok(r) => {
                proptest::prop_assert!(parsed.is_some(), "the reference refuses {}", pattern);
                let expected = (0..=subject.len()).find_map(|start| {
                    let (ends, _) = re.alt(0, &[start].into()).unwrap();
                    ends.last().map(|&end| (start, end))
                });
                proptest::prop_assert_eq!(
                    r.captures(subject).map(|c| c[0].unwrap()),
                    expected,
                    "{}",
                    pattern
                );
            }
            // too large for the program, or a bound over 255
            Err(e) => proptest::prop_assert!(
                parsed.is_none() || e.0.contains("too large") || e.0.contains("bound"),
                "{}",
                e
            ),
        }
        Ok(())
    }

    type Ends = std::collections::BTreeSet<usize>;

    /// ERE over ASCII letters, `.`, `^`, `$`, groups, `|` and the quantifiers, read straight
    /// from the text: each function takes the positions it may start at and the pattern
    /// offset, and gives the positions it may end at and the offset after it (`None`: a
    /// syntax error). A repeated atom is simply read again for each iteration.
    struct Reference<'a> {
        p: &'a [u8],
        s: &'a [u8],
    }

    impl Reference<'_> {
        fn alt(&self, mut i: usize, from: &Ends) -> Option<(Ends, usize)> {
            let mut all = Ends::new();
            loop {
                let mut cur = from.clone();
                while !matches!(self.p.get(i), None | Some(b'|' | b')')) {
                    (cur, i) = self.repeat(i, &cur)?;
                }
                all.extend(cur);
                if self.p.get(i) != Some(&b'|') {
                    return Some((all, i));
                }
                i += 1;
            }
        }

        fn repeat(&self, i: usize, from: &Ends) -> Option<(Ends, usize)> {
            let (_, mut j) = self.atom(i, from)?;
            let mut bounds = Vec::new();
            while let Some(&q) = self.p.get(j) {
                j += 1;
                bounds.push(match q {
                    b'*' => (0, None),
                    b'+' => (1, None),
                    b'?' => (0, Some(1)),
                    b'{' => {
                        let close = j + self.p[j..].iter().position(|&c| c == b'}')?;
                        let text = std::str::from_utf8(&self.p[j..close]).ok()?;
                        j = close + 1;
                        let num = |t: &str| t.parse::<usize>().ok();
                        match text.split_once(',') {
                            None => (num(text)?, num(text)),
                            Some(("", "")) => return None,
                            Some((lo, hi)) => (
                                if lo.is_empty() { 0 } else { num(lo)? },
                                if hi.is_empty() { None } else { Some(num(hi)?) },
                            ),
                        }
                    }
                    _ => {
                        j -= 1;
                        break;
                    }
                });
                if matches!(bounds.last(), Some(&(lo, Some(hi))) if hi < lo) {
                    return None;
                }
            }
            Some((self.repeated(i, &bounds, from)?, j))
        }

        /// The atom at `i` under the first `bounds.len()` quantifiers that follow it.
        fn repeated(
            &self,
            i: usize,
            bounds: &[(usize, Option<usize>)],
            from: &Ends,
        ) -> Option<Ends> {
            let Some((&(min, max), inner)) = bounds.split_last() else {
                return Some(self.atom(i, from)?.0);
            };
            let mut cur = from.clone();
            for _ in 0..min {
                cur = self.repeated(i, inner, &cur)?;
            }
            let mut all = cur.clone();
            for _ in min..max.unwrap_or(usize::MAX) {
                cur = self
                    .repeated(i, inner, &cur)?
                    .difference(&all)
                    .copied()
                    .collect();
                if cur.is_empty() {
                    break;
                }
                all.extend(&cur);
            }
            Some(all)
        }

        fn atom(&self, i: usize, from: &Ends) -> Option<(Ends, usize)> {
            let step = |keep: &dyn Fn(usize) -> bool, by: usize| {
                Some((
                    from.iter().filter(|&&p| keep(p)).map(|&p| p + by).collect(),
                    i + 1,
                ))
            };
            match *self.p.get(i)? {
                b'(' => {
                    let (ends, j) = self.alt(i + 1, from)?;
                    (self.p.get(j) == Some(&b')')).then_some((ends, j + 1))
                }
                b'^' => step(&|p| p == 0, 0),
                b'$' => step(&|p| p == self.s.len(), 0),
                b'.' => step(&|p| p < self.s.len(), 1),
                c if c.is_ascii_alphanumeric() || c == b',' || c == b'}' => step(
                    &|p| self.s.get(p).is_some_and(|d| d.eq_ignore_ascii_case(&c)),
                    1,
                ),
                _ => None,
            }
        }
    }
}
