//! Shell-style patterns, as Flux matches them in two places: the trimming operators of post-build
//! substitution (`${var#pat}`, `${var%%pat}`, …) and each path component of a `.sourceignore` /
//! `spec.ignore` rule. A pattern is compiled once into [`Glob`] pieces, then matched against whole
//! candidates with a backtracking two-cursor walk that only ever returns to the latest `*`.
//!
//! What the controllers' matchers do, and so what this one does:
//! - `*` matches any bytes at all, `/` included (ignore rules only ever match single components);
//! - `?` and a bracket class match one UTF-8 character (an invalid byte counts as one);
//! - a literal compares bytes, `\c` makes `c` literal;
//! - `[abc]`, `[a-z]`, `[^…]` classes, whose members may be escaped with `\`; a member may not be
//!   an unescaped `-` or `]`, and a class must be closed and non-empty;
//! - a malformed pattern never matches anything (the operator then leaves the value unchanged).

/// One compiled piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// `*`: any run of bytes (consecutive stars are one).
    Star,
    /// `?`: one character.
    AnyChar,
    /// A byte that must be there.
    Literal(u8),
    /// `[…]`: one character inside (or, `negated`, outside) the inclusive ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A compiled pattern; `None` pieces when the pattern is malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pieces: Option<Vec<Piece>>,
    /// A cheaper test for the common shapes (`name`, `*.ext`, `prefix*`).
    shortcut: Shortcut,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Shortcut {
    None,
    Exact(Vec<u8>),
    Suffix(Vec<u8>),
    Prefix(Vec<u8>),
}

fn literal_bytes(pieces: &[Piece]) -> Option<Vec<u8>> {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Literal(b) => Some(*b),
            _ => None,
        })
        .collect()
}

impl Glob {
    /// Compiles `pattern`; a malformed one compiles to a glob that matches nothing.
    pub fn new(pattern: &[u8]) -> Glob {
        let pieces = compile(pattern);
        let shortcut = match pieces.as_deref() {
            Some([Piece::Star, rest @ ..]) => literal_bytes(rest).map(Shortcut::Suffix),
            Some([rest @ .., Piece::Star]) => literal_bytes(rest).map(Shortcut::Prefix),
            Some(all) => literal_bytes(all).map(Shortcut::Exact),
            None => None,
        }
        .unwrap_or(Shortcut::None);
        Glob { pieces, shortcut }
    }

    /// True when the pattern was well formed.
    #[cfg(test)]
    pub fn is_valid(&self) -> bool {
        self.pieces.is_some()
    }

    /// True when the whole of `candidate` matches.
    pub fn matches(&self, candidate: &[u8]) -> bool {
        match &self.shortcut {
            Shortcut::Exact(bytes) => return candidate == bytes.as_slice(),
            Shortcut::Suffix(bytes) => return candidate.ends_with(bytes),
            Shortcut::Prefix(bytes) => return candidate.starts_with(bytes),
            Shortcut::None => {}
        }
        let Some(pieces) = &self.pieces else {
            return false;
        };
        let mut piece = 0;
        let mut at = 0;
        // Where to resume after the latest star: (piece after it, candidate offset it covers up to).
        let mut resume: Option<(usize, usize)> = None;
        loop {
            let advanced = match pieces.get(piece) {
                Some(Piece::Star) => {
                    resume = Some((piece + 1, at));
                    piece += 1;
                    continue;
                }
                Some(Piece::AnyChar) if at < candidate.len() => {
                    Some(at + decode_char(&candidate[at..]).1)
                }
                Some(Piece::Literal(b)) if candidate.get(at) == Some(b) => Some(at + 1),
                Some(Piece::Class { negated, ranges }) if at < candidate.len() => {
                    let (c, width) = decode_char(&candidate[at..]);
                    let inside = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
                    (inside != *negated).then_some(at + width)
                }
                None if at == candidate.len() => return true,
                _ => None,
            };
            match advanced {
                Some(next) => {
                    at = next;
                    piece += 1;
                }
                None => match resume {
                    // Let the latest star swallow one more byte and try again from there.
                    Some((after_star, covered)) if covered < candidate.len() => {
                        resume = Some((after_star, covered + 1));
                        piece = after_star;
                        at = covered + 1;
                    }
                    _ => return false,
                },
            }
        }
    }
}

impl Glob {
    /// For every prefix length `0..=candidate.len()`, whether the whole pattern matches that
    /// prefix. One forward pass over the candidate, tracking which pieces are reachable at each
    /// offset, costs O(length × pieces); calling [`Glob::matches`] on every prefix would cost
    /// O(length²) and more (the trimming operators need every prefix).
    pub fn matching_prefixes(&self, candidate: &[u8]) -> Vec<bool> {
        let n = candidate.len();
        let mut out = vec![false; n + 1];
        let Some(pieces) = &self.pieces else {
            return out;
        };
        let p = pieces.len();
        // A piece consumes at most 4 bytes, so offsets `pos..pos + 4` are all that is pending.
        const RING: usize = 5;
        let mut ring = vec![vec![false; p + 1]; RING];
        let mut cut: Vec<Option<bool>> = vec![None; n + 1];
        ring[0][0] = true;
        for pos in 0..=n {
            let row = pos % RING;
            for i in 0..p {
                if ring[row][i] && pieces[i] == Piece::Star {
                    ring[row][i + 1] = true;
                }
            }
            out[pos] = cut.get(pos).copied().flatten().unwrap_or(ring[row][p]);
            if pos < n {
                // A prefix ending inside this character reads its bytes as U+FFFD of width 1
                // each, from the same state.
                let width = decode_char(&candidate[pos..]).1;
                let mut state = ring[row].clone();
                for k in 1..width {
                    state = cut_step(pieces, &state, candidate[pos + k - 1]);
                    cut[pos + k] = Some(state[p]);
                }
            }
            for i in 0..p {
                if !ring[row][i] || pos == n {
                    continue;
                }
                let step = match &pieces[i] {
                    // A star swallows one more byte and stays.
                    Piece::Star => Some((pos + 1, i)),
                    Piece::AnyChar => Some((pos + decode_char(&candidate[pos..]).1, i + 1)),
                    Piece::Literal(b) => (candidate[pos] == *b).then_some((pos + 1, i + 1)),
                    Piece::Class { negated, ranges } => {
                        let (c, width) = decode_char(&candidate[pos..]);
                        let inside = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
                        (inside != *negated).then_some((pos + width, i + 1))
                    }
                };
                if let Some((to, piece)) = step {
                    ring[to % RING][piece] = true;
                }
            }
            ring[row].fill(false);
        }
        out
    }
}

/// The pieces reachable after one lone byte at the end of a candidate, from `state`.
fn cut_step(pieces: &[Piece], state: &[bool], byte: u8) -> Vec<bool> {
    let mut next = vec![false; state.len()];
    for (i, piece) in pieces.iter().enumerate() {
        if !state[i] {
            continue;
        }
        let advances = match piece {
            Piece::Star => {
                next[i] = true;
                false
            }
            Piece::AnyChar => true,
            Piece::Literal(b) => *b == byte,
            Piece::Class { negated, ranges } => {
                let c = char::REPLACEMENT_CHARACTER;
                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }
        };
        if advances {
            next[i + 1] = true;
        }
    }
    for i in 0..pieces.len() {
        if next[i] && pieces[i] == Piece::Star {
            next[i + 1] = true;
        }
    }
    next
}

/// Decodes the character at the start of `bytes`; an invalid or truncated sequence is one
/// U+FFFD of width 1, an empty input U+FFFD of width 0.
pub fn decode_char(bytes: &[u8]) -> (char, usize) {
    let width = match bytes.first() {
        None => return (char::REPLACEMENT_CHARACTER, 0),
        Some(0x00..=0x7f) => 1,
        Some(0xc2..=0xdf) => 2,
        Some(0xe0..=0xef) => 3,
        Some(0xf0..=0xf4) => 4,
        Some(_) => return (char::REPLACEMENT_CHARACTER, 1),
    };
    bytes
        .get(..width)
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|s| s.chars().next())
        .map_or((char::REPLACEMENT_CHARACTER, 1), |c| (c, width))
}

fn compile(pattern: &[u8]) -> Option<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut i = 0;
    while let Some(&b) = pattern.get(i) {
        match b {
            b'*' => {
                if pieces.last() != Some(&Piece::Star) {
                    pieces.push(Piece::Star);
                }
                i += 1;
            }
            b'?' => {
                pieces.push(Piece::AnyChar);
                i += 1;
            }
            b'\\' => {
                pieces.push(Piece::Literal(*pattern.get(i + 1)?));
                i += 2;
            }
            b'[' => {
                let (class, next) = compile_class(pattern, i + 1)?;
                pieces.push(class);
                i = next;
            }
            _ => {
                pieces.push(Piece::Literal(b));
                i += 1;
            }
        }
    }
    Some(pieces)
}

/// Compiles a class body starting after its `[`; returns the piece and the offset after `]`.
fn compile_class(pattern: &[u8], mut i: usize) -> Option<(Piece, usize)> {
    let negated = pattern.get(i) == Some(&b'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        if pattern.get(i) == Some(&b']') && !ranges.is_empty() {
            return Some((Piece::Class { negated, ranges }, i + 1));
        }
        let (lo, next) = class_member(pattern, i)?;
        i = next;
        let mut hi = lo;
        if pattern.get(i) == Some(&b'-') {
            let (end, next) = class_member(pattern, i + 1)?;
            hi = end;
            i = next;
        }
        ranges.push((lo, hi));
    }
}

/// One (possibly escaped) class member; something must follow it, or the class is unclosed.
fn class_member(pattern: &[u8], mut i: usize) -> Option<(char, usize)> {
    match pattern.get(i)? {
        b'-' | b']' => return None,
        b'\\' => i += 1,
        _ => {}
    }
    let rest = pattern.get(i..).filter(|r| !r.is_empty())?;
    let (c, width) = decode_char(rest);
    if c == char::REPLACEMENT_CHARACTER && width == 1 {
        return None;
    }
    let next = i + width;
    (next < pattern.len()).then_some((c, next))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        /// The one-pass prefix table agrees with matching each prefix on its own.
        #[test]
        fn matching_prefixes_agrees_with_matches(
            pattern in prop::collection::vec(prop::sample::select(&[
                "*", "?", "a", "b", "[a-b]", "[^a]", "\\*", "é", "[é-ê]", "\\",
            ][..]), 0..6),
            candidate in prop::collection::vec(prop::sample::select(&[
                "a", "b", "*", "é", "ê", "\u{fffd}", "\\",
            ][..]), 0..10),
            cut in any::<bool>(),
        ) {
            let glob = Glob::new(pattern.concat().as_bytes());
            let mut candidate = candidate.concat().into_bytes();
            if cut && !candidate.is_empty() {
                // An invalid UTF-8 tail.
                candidate.push(0xc3);
            }
            let table = glob.matching_prefixes(&candidate);
            for (len, matched) in table.iter().enumerate() {
                prop_assert_eq!(*matched, glob.matches(&candidate[..len]), "prefix {}", len);
            }
        }
    }

    #[test]
    fn matching_table() {
        // (pattern, candidate, matches)
        let cases: &[(&str, &str, bool)] = &[
            ("", "", true),
            ("", "a", false),
            ("*", "", true),
            ("*", "any/thing/at/all", true),
            ("**", "x", true),
            ("*.", "bash.", true),
            ("*.", "bash.string.", true),
            ("*.", "bash.string.t", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyycz", false),
            ("*b", "abcb", true),
            ("a?c", "abc", true),
            ("a?c", "abbc", false),
            ("?", "é", true),
            ("??", "é", false),
            ("[a-c]x", "bx", true),
            ("[^a-c]x", "bx", false),
            ("[^a-c]x", "dx", true),
            ("[é]", "é", true),
            ("[\\]]", "]", true),
            ("[a\\-z]", "-", true),
            ("[a\\-z]", "b", false),
            ("[[*]", "*", true),
            ("\\*", "*", true),
            ("\\*", "a", false),
            ("a]", "a]", true),
            ("*/", "path/", true),
            ("abc", "abcd", false),
            ("abc", "ab", false),
        ];
        for (pattern, candidate, want) in cases {
            let glob = Glob::new(pattern.as_bytes());
            assert!(glob.is_valid(), "{pattern} should compile");
            assert_eq!(
                glob.matches(candidate.as_bytes()),
                *want,
                "{pattern} ~ {candidate}"
            );
        }
    }

    #[test]
    fn malformed_patterns_match_nothing() {
        for pattern in [
            "[", "[]", "[^]", "[a", "[a-", "[a-]", "[-a]", "[]a]", "a\\", "\\", "[a-b-c]", "*[",
        ] {
            let glob = Glob::new(pattern.as_bytes());
            assert!(!glob.is_valid(), "{pattern} should not compile");
            for candidate in ["", "a", "[", "a-", "]"] {
                assert!(
                    !glob.matches(candidate.as_bytes()),
                    "{pattern} ~ {candidate}"
                );
            }
        }
    }

    #[test]
    fn long_inputs_stay_linear_enough() {
        let candidate = "a".repeat(4096);
        let glob = Glob::new(b"*a*a*a*b");
        assert!(!glob.matches(candidate.as_bytes()));
    }
}
