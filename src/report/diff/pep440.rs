//! Python package versions ordered as PEP 440 orders them (what pip compares): epochs, release
//! segments without trailing zeros (`1.10 > 1.9`, `2.0 == 2.0.0`), pre-releases before the
//! release, post-releases after it, dev releases before everything of their release, local
//! versions (`+cu121`) after the same public version.
//!
//! Written here rather than taken from a crate: about 150 lines, and the crates that do it pull
//! in a parser framework.

use std::cmp::Ordering;

/// A parsed version; compare with [`Ord`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    epoch: u64,
    /// Trailing zeros removed: they do not change the order.
    release: Vec<u64>,
    pre: Option<(Phase, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    local: Vec<LocalPart>,
}

/// A pre-release phase, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Alpha,
    Beta,
    Rc,
}

/// A local version segment: numbers sort above words (PEP 440).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum LocalPart {
    Word(String),
    Number(u64),
}

impl Version {
    /// Parses `text` (case-insensitive, an optional leading `v`, PEP 440's separator
    /// spellings); `None` when it is not a PEP 440 version.
    pub fn parse(text: &str) -> Option<Version> {
        let lower = text.trim().to_ascii_lowercase();
        let (public, local) = match lower.split_once('+') {
            Some((p, l)) => (p, Some(l)),
            None => (lower.as_str(), None),
        };
        let mut rest = public.strip_prefix('v').unwrap_or(public);
        let mut epoch = 0;
        if let Some((e, r)) = rest.split_once('!') {
            epoch = e.parse().ok()?;
            rest = r;
        }
        let mut cursor = Cursor { rest };
        let mut release = vec![cursor.number()?];
        while cursor.rest.starts_with('.')
            && cursor.rest[1..].starts_with(|c: char| c.is_ascii_digit())
        {
            cursor.rest = &cursor.rest[1..];
            release.push(cursor.number()?);
        }
        while release.len() > 1 && release.last() == Some(&0) {
            release.pop();
        }
        let pre = cursor.pre();
        let post = cursor.post();
        let dev = cursor.tagged(&["dev"]);
        if !cursor.rest.is_empty() {
            return None;
        }
        let local = match local {
            Some(l) => parse_local(l)?,
            None => Vec::new(),
        };
        Some(Version {
            epoch,
            release,
            pre,
            post,
            dev,
            local,
        })
    }

    /// The order key of the pre-release part: a dev release of a final version (`1.0.dev1`)
    /// sorts before its pre-releases, a final or post release after them.
    fn pre_key(&self) -> (u8, Option<(Phase, u64)>) {
        match (self.pre, self.post, self.dev) {
            (None, None, Some(_)) => (0, None),
            (Some(p), _, _) => (1, Some(p)),
            (None, _, _) => (2, None),
        }
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| self.release.cmp(&other.release))
            .then_with(|| self.pre_key().cmp(&other.pre_key()))
            // No post release sorts before any post release.
            .then_with(|| self.post.cmp(&other.post))
            // No dev release sorts after any dev release.
            .then_with(|| match (self.dev, other.dev) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(x), Some(y)) => x.cmp(&y),
            })
            // Shorter local versions sort first when one is a prefix of the other.
            .then_with(|| self.local.cmp(&other.local))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// How version `b` relates to version `a`: `upgraded`, `downgraded`, `same`, or `changed` when
/// either is not a PEP 440 version (then only equal text is `same`).
pub fn direction(a: &str, b: &str) -> &'static str {
    match (Version::parse(a), Version::parse(b)) {
        (Some(x), Some(y)) => match x.cmp(&y) {
            Ordering::Less => "upgraded",
            Ordering::Greater => "downgraded",
            Ordering::Equal => "same",
        },
        _ if a == b => "same",
        _ => "changed",
    }
}

struct Cursor<'t> {
    rest: &'t str,
}

impl Cursor<'_> {
    fn number(&mut self) -> Option<u64> {
        let end = self
            .rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(self.rest.len());
        let n = self.rest[..end].parse().ok()?;
        self.rest = &self.rest[end..];
        Some(n)
    }

    /// `[-_.]?word[-_.]?N?` for one of `words`: the number, 0 when implicit.
    fn tagged(&mut self, words: &[&str]) -> Option<u64> {
        let (_, n) = self.tagged_word(words)?;
        Some(n)
    }

    fn tagged_word(&mut self, words: &[&str]) -> Option<(String, u64)> {
        let body = self.rest.trim_start_matches(['-', '_', '.']);
        let skipped = self.rest.len() - body.len();
        if skipped > 1 {
            return None;
        }
        // Longest spelling first: `preview` before `pre`, `rc` before `r`.
        let mut sorted: Vec<&&str> = words.iter().collect();
        sorted.sort_by_key(|w| std::cmp::Reverse(w.len()));
        let word = sorted.into_iter().find(|w| body.starts_with(**w))?;
        let after = &body[word.len()..];
        let digits = after.trim_start_matches(['-', '_', '.']);
        let sep = after.len() - digits.len();
        let mut probe = Cursor { rest: digits };
        match probe.number() {
            Some(n) if sep <= 1 => {
                self.rest = probe.rest;
                Some((word.to_string(), n))
            }
            _ => {
                self.rest = after;
                Some((word.to_string(), 0))
            }
        }
    }

    fn pre(&mut self) -> Option<(Phase, u64)> {
        const WORDS: [&str; 7] = ["alpha", "a", "beta", "b", "preview", "pre", "c"];
        let (word, n) = self.tagged_word(&[WORDS.as_slice(), &["rc"]].concat())?;
        let phase = match word.as_str() {
            "alpha" | "a" => Phase::Alpha,
            "beta" | "b" => Phase::Beta,
            _ => Phase::Rc,
        };
        Some((phase, n))
    }

    fn post(&mut self) -> Option<u64> {
        // `1.0-1` is a post release too.
        if let Some(digits) = self.rest.strip_prefix('-') {
            if digits.starts_with(|c: char| c.is_ascii_digit()) {
                self.rest = digits;
                return self.number();
            }
        }
        self.tagged(&["post", "rev", "r"])
    }
}

fn parse_local(text: &str) -> Option<Vec<LocalPart>> {
    text.split(['.', '-', '_'])
        .map(|part| {
            if part.is_empty() || !part.chars().all(|c| c.is_ascii_alphanumeric()) {
                None
            } else if part.chars().all(|c| c.is_ascii_digit()) {
                part.parse().ok().map(LocalPart::Number)
            } else {
                Some(LocalPart::Word(part.to_string()))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|| panic!("{s} parses"))
    }

    /// Issue 12: PEP 440's order, including the cases plain text or numeric-tuple order gets
    /// wrong (1.10 vs 1.9, rc before final, post after, dev first, local last).
    #[test]
    fn versions_order_as_pep_440_says() {
        let ordered = [
            "1.0.dev1",
            "1.0a1.dev1",
            "1.0a1",
            "1.0b2",
            "1.0rc1",
            "1.0",
            "1.0+cu118",
            "1.0+cu121",
            "1.0.post1.dev1",
            "1.0.post1",
            "1.9",
            "1.10",
            "2.3.0rc1",
            "2.3.0",
            "2.3.0.post1",
            "1!0.1",
        ];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("2.0"), v("2.0.0"));
        assert_eq!(v("1.0RC1").cmp(&v("1.0-rc.1")), Ordering::Equal);
        assert_eq!(v("1.0-1").cmp(&v("1.0.post1")), Ordering::Equal);
        assert_eq!(v("v1.2"), v("1.2"));
        assert!(v("1.0+abc.5") > v("1.0+abc.word"), "numbers above words");
    }

    #[test]
    fn directions_and_unparsable_versions() {
        assert_eq!(direction("1.9", "1.10"), "upgraded");
        assert_eq!(direction("2.3.0.post1", "2.3.0rc1"), "downgraded");
        assert_eq!(direction("2.0", "2.0.0"), "same");
        assert_eq!(direction("abc-1", "abc-2"), "changed");
        assert_eq!(direction("weird", "weird"), "same");
        assert!(Version::parse("1.0..1").is_none());
        assert!(Version::parse("1.0+").is_none());
    }
}
