//! Helm's version-constraint dialect (Masterminds semver v3), as Flux applies it to a
//! HelmRepository chart's `spec.chart.spec.version` and an OCIRepository's `ref.semver`.
//!
//! A constraint is OR groups (`||`) of AND-ed comparisons (separated by a comma or spaces);
//! operators `=`, `!=`, `>`, `<`, `>=` (`=>`), `<=` (`=<`), `~` (`~>`), `^` and none (equal, or
//! tilde when the version has wildcards); versions may be partial (`1`, `1.2`), carry `x`/`X`/`*`
//! wildcards, a `v` prefix, a pre-release and build metadata; `A - B` is `>= A, <= B`. A
//! pre-release version matches only an AND group in which some comparison names a pre-release
//! (`>=1.0.0-0 <2.0.0` takes `1.5.0-rc.1`; `>=1.0.0` does not). `^*` and `<=*` match any version
//! (upstream's documented intent; its code reads them as `0.0.0`). Candidates
//! are parsed as Flux does (strict `MAJOR.MINOR.PATCH`, optional `v`); others are ignored. An exact
//! string match wins first (source-controller's rule), else the highest matching version.

use std::cmp::Ordering;
use std::sync::OnceLock;

use regex::Regex;

/// The constraint is not in the dialect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid version constraint {constraint:?}: {reason}")]
pub struct ConstraintError {
    pub constraint: String,
    pub reason: String,
}

/// The highest of `candidates` matching `constraint` (an empty constraint is `*`); a candidate
/// equal to the constraint string wins outright. `Ok(None)` when none matches.
pub fn resolve<'a>(
    constraint: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Result<Option<&'a str>, ConstraintError> {
    let trimmed = constraint.trim();
    let parsed =
        Constraints::parse(if trimmed.is_empty() { "*" } else { trimmed }).map_err(|reason| {
            ConstraintError {
                constraint: constraint.to_owned(),
                reason,
            }
        })?;
    let mut best: Option<(&'a str, Version)> = None;
    for candidate in candidates {
        if !trimmed.is_empty() && candidate == trimmed {
            return Ok(Some(candidate));
        }
        let Some(version) = Version::parse_strict(candidate) else {
            continue;
        };
        if !parsed.matches(&version) {
            continue;
        }
        if best
            .as_ref()
            .is_none_or(|(_, b)| version.compare(b) == Ordering::Greater)
        {
            best = Some((candidate, version));
        }
    }
    Ok(best.map(|(c, _)| c))
}

/// True when `constraint` names one version (`1.2.3`, `v1.2.3-rc.1+build`): no operator, range
/// or wildcard. Such a version can be looked up in a cache without listing the versions.
pub fn is_exact(constraint: &str) -> bool {
    Version::parse_strict(constraint.trim()).is_some()
}

/// True when `version` is a version in Flux's sense (strict semver, optional `v`).
pub fn is_version(version: &str) -> bool {
    Version::parse_strict(version).is_some()
}

/// Orders two version strings by semver precedence (unparsable ones first, by text).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    match (Version::parse_loose(a), Version::parse_loose(b)) {
        (Some(x), Some(y)) => x.compare(&y),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => a.cmp(b),
    }
}

/// A parsed version; build metadata is kept out (it never takes part in comparisons).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
}

impl Version {
    /// Masterminds' `NewVersion`: optional `v`, minor and patch may be missing.
    fn parse_loose(text: &str) -> Option<Version> {
        Self::parse(text, false)
    }

    /// Flux's `version.ParseVersion`: strict semver 2 after an optional `v`.
    fn parse_strict(text: &str) -> Option<Version> {
        Self::parse(text, true)
    }

    fn parse(text: &str, strict: bool) -> Option<Version> {
        let body = text.strip_prefix('v').unwrap_or(text);
        let (body, build) = match body.split_once('+') {
            Some((b, m)) => (b, Some(m)),
            None => (body, None),
        };
        let (core, pre) = match body.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (body, None),
        };
        let numbers: Vec<&str> = core.split('.').collect();
        if numbers.is_empty() || numbers.len() > 3 || (strict && numbers.len() != 3) {
            return None;
        }
        let mut parts = [0u64; 3];
        for (slot, number) in parts.iter_mut().zip(&numbers) {
            if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            if strict && number.len() > 1 && number.starts_with('0') {
                return None;
            }
            *slot = number.parse().ok()?;
        }
        let identifiers_ok = |s: &str| {
            s.split('.').all(|id| {
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
        };
        if let Some(pre) = pre {
            if !identifiers_ok(pre) {
                return None;
            }
            // Numeric pre-release identifiers have no leading zeros.
            if pre.split('.').any(|id| {
                id.len() > 1 && id.starts_with('0') && id.bytes().all(|b| b.is_ascii_digit())
            }) {
                return None;
            }
        }
        if let Some(build) = build
            && !identifiers_ok(build)
        {
            return None;
        }
        Some(Version {
            major: parts[0],
            minor: parts[1],
            patch: parts[2],
            pre: pre.unwrap_or("").to_owned(),
        })
    }

    /// Semver precedence; build metadata ignored.
    fn compare(&self, other: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prerelease(&self.pre, &other.pre),
            })
    }
}

fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let left: Vec<&str> = a.split('.').collect();
    let right: Vec<&str> = b.split('.').collect();
    for i in 0..left.len().max(right.len()) {
        let (l, r) = (left.get(i).copied(), right.get(i).copied());
        let order = match (l, r) {
            (None, _) => Ordering::Less,
            (_, None) => Ordering::Greater,
            (Some(l), Some(r)) if l == r => Ordering::Equal,
            (Some(l), Some(r)) => match (l.parse::<u64>(), r.parse::<u64>()) {
                (Ok(x), Ok(y)) => x.cmp(&y),
                (Ok(_), Err(_)) => Ordering::Less,
                (Err(_), Ok(_)) => Ordering::Greater,
                (Err(_), Err(_)) => l.cmp(r),
            },
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    TildeOrEqual,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Tilde,
    Caret,
}

/// One comparison: `con` is the constraint's version with wildcards and missing parts as 0.
#[derive(Debug, Clone)]
struct Comparison {
    op: Op,
    con: Version,
    /// Any wildcard or missing part (`1.x`, `1`, `*`).
    dirty: bool,
    /// The minor part is a wildcard or missing (`1`, `1.x`).
    minor_dirty: bool,
    /// The patch part is a wildcard or missing (`1.2`, `1.2.x`).
    patch_dirty: bool,
    /// The major part is a wildcard (`*`, `x`): matches any version.
    any: bool,
}

const VERSION_PATTERN: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const OPS_PATTERN: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";

struct Patterns {
    one: Regex,
    range: Regex,
    find: Regex,
    valid: Regex,
}

fn patterns() -> &'static Patterns {
    static PATTERNS: OnceLock<Patterns> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        let (v, o) = (VERSION_PATTERN, OPS_PATTERN);
        let compile = |p: String| Regex::new(&p).expect("constant pattern compiles");
        Patterns {
            one: compile(format!(r"^\s*({o})\s*({v})\s*$")),
            range: compile(format!(r"\s*({v})\s+-\s+({v})\s*")),
            find: compile(format!(r"({o})\s*({v})")),
            valid: compile(format!(
                r"^(\s*({o})\s*({v})\s*)((?:\s+|,\s*)({o})\s*({v})\s*)*$"
            )),
        }
    })
}

fn is_wildcard(part: &str) -> bool {
    matches!(part, "x" | "X" | "*")
}

/// OR groups of AND-ed comparisons.
#[derive(Debug, Clone)]
struct Constraints {
    groups: Vec<Group>,
}

/// AND-ed comparisons; when one of them names a pre-release, pre-release versions may match
/// all of them (Masterminds semver 3.4).
#[derive(Debug, Clone)]
struct Group {
    comparisons: Vec<Comparison>,
    include_pre: bool,
}

impl Constraints {
    fn parse(text: &str) -> Result<Constraints, String> {
        let p = patterns();
        // `A - B` → `>= A, <= B` (the second version is group 11: the first has 9 groups).
        let rewritten = p.range.replace_all(text, ">= ${1}, <= ${11}");
        let mut groups = Vec::new();
        for group in rewritten.split("||") {
            if !p.valid.is_match(group) {
                return Err(format!("improper constraint: {:?}", group.trim()));
            }
            let comparisons = p
                .find
                .find_iter(group)
                .map(|found| Self::parse_one(found.as_str()))
                .collect::<Result<Vec<_>, _>>()?;
            let include_pre = comparisons.iter().any(|c| !c.con.pre.is_empty());
            groups.push(Group {
                comparisons,
                include_pre,
            });
        }
        Ok(Constraints { groups })
    }

    fn parse_one(text: &str) -> Result<Comparison, String> {
        let caps = patterns()
            .one
            .captures(text)
            .ok_or_else(|| format!("improper constraint: {text:?}"))?;
        let get = |i: usize| caps.get(i).map_or("", |m| m.as_str());
        let op = match get(1) {
            "" | "=" => Op::TildeOrEqual,
            "!=" => Op::NotEqual,
            ">" => Op::Greater,
            "<" => Op::Less,
            ">=" | "=>" => Op::GreaterEqual,
            "<=" | "=<" => Op::LessEqual,
            "~" | "~>" => Op::Tilde,
            "^" => Op::Caret,
            other => return Err(format!("unknown operator {other:?}")),
        };
        let (major, minor, patch, pre) = (
            get(3),
            get(4).trim_start_matches('.'),
            get(5).trim_start_matches('.'),
            get(6),
        );
        let (mut dirty, mut minor_dirty, mut patch_dirty, mut any) = (false, false, false, false);
        let version_text = if is_wildcard(major) {
            dirty = true;
            any = true;
            format!("0.0.0{pre}")
        } else if minor.is_empty() || is_wildcard(minor) {
            dirty = true;
            minor_dirty = true;
            format!("{major}.0.0{pre}")
        } else if patch.is_empty() || is_wildcard(patch) {
            dirty = true;
            patch_dirty = true;
            format!("{major}.{minor}.0{pre}")
        } else {
            get(2).to_owned()
        };
        let con = Version::parse_loose(&version_text)
            .ok_or_else(|| format!("invalid version {:?}", get(2)))?;
        Ok(Comparison {
            op,
            con,
            dirty,
            minor_dirty,
            patch_dirty,
            any,
        })
    }

    fn matches(&self, version: &Version) -> bool {
        self.groups.iter().any(|group| {
            (version.pre.is_empty() || group.include_pre)
                && group.comparisons.iter().all(|c| c.matches(version))
        })
    }
}

impl Comparison {
    fn matches(&self, v: &Version) -> bool {
        let c = &self.con;
        match self.op {
            Op::TildeOrEqual if self.dirty => self.tilde(v),
            Op::TildeOrEqual => v.compare(c) == Ordering::Equal,
            Op::NotEqual => self.not_equal(v),
            Op::Greater => self.greater(v),
            Op::Less => v.compare(c) == Ordering::Less,
            Op::GreaterEqual => v.compare(c) != Ordering::Less,
            Op::LessEqual => self.less_equal(v),
            Op::Tilde => self.tilde(v),
            Op::Caret => self.caret(v),
        }
    }

    fn not_equal(&self, v: &Version) -> bool {
        let c = &self.con;
        if self.dirty {
            if c.major != v.major {
                return true;
            }
            if self.minor_dirty {
                return false;
            }
            if c.minor != v.minor {
                return true;
            }
            if self.patch_dirty {
                return compare_prerelease_or_equal(&v.pre, &c.pre);
            }
            if c.patch != v.patch {
                return true;
            }
        }
        v.compare(c) != Ordering::Equal
    }

    fn greater(&self, v: &Version) -> bool {
        let c = &self.con;
        if !self.dirty || self.any {
            return v.compare(c) == Ordering::Greater;
        }
        match v.major.cmp(&c.major) {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal if self.minor_dirty => false,
            Ordering::Equal => v.minor > c.minor,
        }
    }

    fn less_equal(&self, v: &Version) -> bool {
        let c = &self.con;
        if !self.dirty || self.any {
            return self.any || v.compare(c) != Ordering::Greater;
        }
        if v.major > c.major {
            return false;
        }
        !(v.major == c.major && v.minor > c.minor && !self.minor_dirty)
    }

    /// `~1.2.3` → `>=1.2.3 <1.3.0`; `~1` → `>=1.0.0 <2.0.0`; `~*` → any.
    fn tilde(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.compare(c) == Ordering::Less {
            return false;
        }
        // `~*` and `~0.0.0` are `>= 0.0.0`.
        let zero = c.major == 0 && c.minor == 0 && c.patch == 0;
        if self.any || (zero && !self.minor_dirty && !self.patch_dirty) {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        self.minor_dirty || v.minor == c.minor
    }

    /// `^1.2.3` → `<2.0.0`; `^0.2.3` → `<0.3.0`; `^0.0.3` → `<0.0.4`; `^0` → `<1.0.0`;
    /// `^0.0` → `<0.1.0`; `^*` → any.
    fn caret(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.compare(c) == Ordering::Less {
            return false;
        }
        if self.any {
            return true;
        }
        if c.major > 0 || self.minor_dirty {
            return v.major == c.major;
        }
        if v.major > 0 {
            return false;
        }
        if c.minor > 0 || self.patch_dirty {
            return v.minor == c.minor;
        }
        if v.minor > 0 {
            return false;
        }
        v.patch == c.patch
    }
}

/// `!=1.2.x`: the same major and minor is excluded unless the pre-releases differ.
fn compare_prerelease_or_equal(version_pre: &str, con_pre: &str) -> bool {
    if version_pre.is_empty() && con_pre.is_empty() {
        return false;
    }
    let order = match (version_pre.is_empty(), con_pre.is_empty()) {
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => compare_prerelease(version_pre, con_pre),
    };
    order != Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERSIONS: &[&str] = &[
        "0.0.1",
        "0.0.2",
        "0.1.0",
        "0.1.5",
        "0.2.0",
        "1.0.0",
        "1.2.0",
        "1.2.3",
        "1.2.9",
        "1.3.0-rc.1",
        "1.3.0",
        "1.4.2",
        "2.0.0-alpha",
        "2.0.0-beta.2",
        "2.0.0-beta.11",
        "2.0.0",
        "2.1.0",
        "3.0.0-rc.1",
    ];

    fn check(constraint: &str, version: &str) -> bool {
        let c = Constraints::parse(constraint).unwrap();
        c.matches(&Version::parse_loose(version).unwrap())
    }

    #[test]
    fn matches_like_masterminds() {
        // (constraint, version, matches)
        let table: &[(&str, &str, bool)] = &[
            ("1.2.3", "1.2.3", true),
            ("1.2.3", "1.2.4", false),
            ("=1.2.3", "1.2.3+build.5", true),
            ("v1.2.3", "1.2.3", true),
            ("1.2", "1.2.7", true),
            ("1.2", "1.3.0", false),
            ("1", "1.9.9", true),
            ("1", "2.0.0", false),
            ("1.2.x", "1.2.0", true),
            ("1.2.X", "1.3.0", false),
            ("1.x", "1.4.0", true),
            ("*", "9.9.9", true),
            ("*", "1.0.0-rc.1", false),
            ("x", "0.0.1", true),
            ("!=1.2.3", "1.2.4", true),
            ("!=1.2.3", "1.2.3", false),
            ("!=1.2.x", "1.2.5", false),
            ("!=1.2.x", "1.3.0", true),
            ("!=1.x", "1.3.0", false),
            ("!=1.x", "2.0.0", true),
            (">1.2.3", "1.2.4", true),
            (">1.2.3", "1.2.3", false),
            (">1.2", "1.2.9", false),
            (">1.2", "1.3.0", true),
            (">1", "1.9.0", false),
            (">1", "2.0.0", true),
            ("<1.2.3", "1.2.2", true),
            ("<1.2.3", "1.2.3", false),
            ("<1.2", "1.1.9", true),
            ("<1.2", "1.2.0", false),
            ("<2", "1.9.9", true),
            ("<2", "2.0.0", false),
            (">=1.2.3", "1.2.3", true),
            ("=>1.2.3", "1.2.2", false),
            (">= 1.2", "1.2.0", true),
            ("<=1.2.3", "1.2.3", true),
            ("=<1.2.3", "1.2.4", false),
            ("<=1.2", "1.2.9", true),
            ("<=1.2", "1.3.0", false),
            ("<=1", "1.9.9", true),
            ("<=1", "2.0.0", false),
            ("~1.2.3", "1.2.9", true),
            ("~1.2.3", "1.3.0", false),
            ("~1.2.3", "1.2.2", false),
            ("~1.2", "1.2.0", true),
            ("~1", "1.9.0", true),
            ("~1", "2.0.0", false),
            ("~>1.2.3", "1.2.5", true),
            ("~0.0.0", "5.0.0", true),
            ("~*", "5.0.0", true),
            ("^1.2.3", "1.9.0", true),
            ("^1.2.3", "2.0.0", false),
            ("^1.2.3", "1.2.2", false),
            ("^1.2", "1.2.0", true),
            ("^1", "1.0.0", true),
            ("^0.2.3", "0.2.9", true),
            ("^0.2.3", "0.3.0", false),
            ("^0.2", "0.2.0", true),
            ("^0.2", "0.3.0", false),
            ("^0.0.3", "0.0.3", true),
            ("^0.0.3", "0.0.4", false),
            ("^0.0", "0.0.9", true),
            ("^0.0", "0.1.0", false),
            ("^0", "0.9.0", true),
            ("^0", "1.0.0", false),
            ("^*", "3.0.0", true),
            ("1.2 - 1.4.5", "1.4.5", true),
            ("1.2 - 1.4.5", "1.4.6", false),
            ("1.2 - 1.4.5", "1.1.9", false),
            ("1.2.3 - 2", "2.9.0", true),
            (">=1.0.0, <2.0.0", "1.5.0", true),
            (">=1.0.0, <2.0.0", "2.0.0", false),
            (">=1.0.0 <2.0.0", "1.5.0", true),
            (">= 1.0.0 , < 2.0.0", "0.9.0", false),
            ("<1.0.0 || >=2.0.0", "2.1.0", true),
            ("<1.0.0 || >=2.0.0", "1.1.0", false),
            ("^1.2 || ^2.1", "2.1.3", true),
            // Pre-releases match only constraints that name one.
            (">=1.0.0", "1.5.0-beta", false),
            (">=1.0.0-0", "1.5.0-beta", true),
            ("^2.0.0-alpha", "2.0.0-beta.2", true),
            ("~2.0.0-0", "2.0.0-rc.1", true),
            (">2.0.0-beta.2", "2.0.0-beta.11", true),
            ("<2.0.0-beta.11", "2.0.0-beta.2", true),
            ("2.0.0-beta.2", "2.0.0-beta.2", true),
            ("!=1.2.3", "1.2.4-rc.1", false),
            ("!=1.2.3-rc.1", "1.2.4-rc.1", true),
        ];
        for (constraint, version, expected) in table {
            assert_eq!(
                check(constraint, version),
                *expected,
                "{constraint} vs {version}"
            );
        }
    }

    #[test]
    fn resolves_the_highest_match() {
        let table: &[(&str, Option<&str>)] = &[
            ("", Some("2.1.0")),
            ("*", Some("2.1.0")),
            ("1.2.3", Some("1.2.3")),
            ("1.2.x", Some("1.2.9")),
            ("~1.2", Some("1.2.9")),
            ("^1.0.0", Some("1.4.2")),
            (">=1.0.0 <1.3.0", Some("1.2.9")),
            ("<1.0.0", Some("0.2.0")),
            ("^0.1", Some("0.1.5")),
            ("^0.0.1", Some("0.0.1")),
            // One pre-release comparison lets pre-releases match its whole AND group.
            (">=2.0.0-0 <2.0.0", Some("2.0.0-beta.11")),
            (">=2.0.0-0 <2.0.0 || >=3.0.0", Some("2.0.0-beta.11")),
            (">=2.0.0 || >=3.0.0-0 <9", Some("3.0.0-rc.1")),
            (">=3.0.0-0", Some("3.0.0-rc.1")),
            (">=3.0.0", None),
            ("5.x", None),
            ("1.3.0-rc.1", Some("1.3.0-rc.1")),
        ];
        for (constraint, expected) in table {
            assert_eq!(
                resolve(constraint, VERSIONS.iter().copied()).unwrap(),
                *expected,
                "{constraint:?}"
            );
        }
    }

    #[test]
    fn exact_text_wins_and_invalid_candidates_are_ignored() {
        // Flux looks for the exact string first.
        assert_eq!(
            resolve("1.2.3+b", ["1.2.3", "1.2.3+b"]).unwrap(),
            Some("1.2.3+b")
        );
        assert_eq!(
            resolve("v1.2", ["v1.2.0", "v1.2.5", "latest", "1.2", "01.2.7"]).unwrap(),
            Some("v1.2.5")
        );
        assert_eq!(resolve(">=1", ["main", "latest"]).unwrap(), None);
    }

    #[test]
    fn rejects_improper_constraints() {
        for bad in [
            ">>1.2",
            "1.2.3 ||",
            "abc",
            "1.2.3 - ",
            ">=1.2.3 & <2",
            "~=1.0",
            "1.2.3-",
            "=",
        ] {
            let err = resolve(bad, ["1.2.3"]).unwrap_err();
            assert_eq!(err.constraint, bad);
            assert!(err.to_string().contains("invalid version constraint"));
        }
    }

    #[test]
    fn exactness_and_ordering() {
        assert!(is_exact("1.2.3"));
        assert!(is_exact("v1.2.3-rc.1+build"));
        assert!(!is_exact("1.2"));
        assert!(!is_exact("=1.2.3"));
        assert!(!is_exact(">=1.2.3"));
        assert!(!is_exact("1.2.x"));
        assert!(!is_exact("*"));
        assert_eq!(compare_versions("1.10.0", "1.9.0"), Ordering::Greater);
        assert_eq!(compare_versions("1.0.0-rc.1", "1.0.0"), Ordering::Less);
        assert_eq!(
            compare_versions("1.0.0-alpha.beta", "1.0.0-alpha.1"),
            Ordering::Greater
        );
        assert_eq!(
            compare_versions("1.0.0-alpha", "1.0.0-alpha.1"),
            Ordering::Less
        );
    }
}
