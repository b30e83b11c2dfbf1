//! The hint `get` prints on stderr when `-n` (default `flux-system`, as in flux) hides objects:
//! how many other namespaces hold, and the command line that lists them with `-A`.

use std::collections::BTreeMap;

use crate::cli::{GetArgs, GetKind};

/// Objects left out by the namespace filter, per namespace.
#[derive(Debug, Default)]
pub struct Elsewhere {
    counts: BTreeMap<String, usize>,
}

impl Elsewhere {
    pub fn add(&mut self, namespace: &str) {
        *self.counts.entry(namespace.to_owned()).or_default() += 1;
    }

    /// `12 more in other namespaces (apps: 9, monitoring: 3); all namespaces: capstan get …`.
    pub fn hint(&self, args: &GetArgs) -> Option<String> {
        let total: usize = self.counts.values().sum();
        if total == 0 || args.all_namespaces {
            return None;
        }
        let shown: Vec<String> = self
            .counts
            .iter()
            .take(5)
            .map(|(ns, n)| format!("{ns}: {n}"))
            .collect();
        let more = if self.counts.len() > 5 { ", …" } else { "" };
        Some(format!(
            "{total} more in other namespaces ({}{more}); all namespaces: {}",
            shown.join(", "),
            command_line(args)
        ))
    }
}

/// The same `get` with `-A` instead of `-n`.
pub fn command_line(args: &GetArgs) -> String {
    let kind = match args.kind {
        GetKind::Kustomizations => "ks",
        GetKind::HelmReleases => "hr",
        GetKind::Sources => "sources",
        GetKind::All => "all",
        GetKind::Images => "images",
    };
    let mut words = vec!["capstan".to_owned(), "get".to_owned(), kind.to_owned()];
    if let Some(name) = &args.name {
        words.push(shell_word(name));
    }
    words.push("-A".to_owned());
    let path = args.path.display().to_string();
    if path != "." {
        words.push("--path".to_owned());
        words.push(shell_word(&path));
    }
    for selector in &args.selector {
        words.push("-l".to_owned());
        words.push(shell_word(selector));
    }
    words.join(" ")
}

/// `word` as one shell word: as it is when plain, else in single quotes.
pub fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}
