//! The age identities SOPS files are decrypted with, and where they come from.
//!
//! Sources, all combined as `sops` combines them: the `--sops-age-key-file` path,
//! `SOPS_AGE_KEY_FILE`, and `SOPS_AGE_KEY` (identities separated by whitespace or newlines).
//! Key files hold one identity per line; empty lines and `#` comments are skipped, as
//! `age-keygen` writes them. Identities live only inside [`Keys`]: its `Debug` shows where the
//! keys came from and their public recipients, never the secret; errors name the source and the
//! line, never the line's text.

use std::path::{Path, PathBuf};

use capstan_core::Fs;

/// The environment variable holding age identities inline.
pub const SOPS_AGE_KEY: &str = "SOPS_AGE_KEY";
/// The environment variable naming an age key file.
pub const SOPS_AGE_KEY_FILE: &str = "SOPS_AGE_KEY_FILE";

/// A set of age identities. Cheap to share by reference; never prints secret material.
#[derive(Default)]
pub struct Keys {
    identities: Vec<age::x25519::Identity>,
    sources: Vec<String>,
}

/// Why keys could not be loaded. Names the source and line; never contains key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A key file could not be read.
    #[error("cannot read age key file {path}: {source}")]
    Read {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line is not an age identity capstan can use.
    #[error("{origin}, line {line}: {reason}")]
    Identity {
        /// Where the identity came from (a path or an environment variable name).
        origin: String,
        /// The 1-based line.
        line: usize,
        /// What is wrong, without the line's content.
        reason: &'static str,
    },
}

impl Keys {
    /// No keys: every encrypted object is left masked.
    pub fn none() -> Keys {
        Keys::default()
    }

    /// Parses identities from text. `origin` names the source in errors (a path or a variable
    /// name). With `several_per_line`, each whitespace-separated word is an identity (as
    /// `SOPS_AGE_KEY` is read); otherwise each line is one identity (as key files are read).
    pub fn parse(text: &str, origin: &str, several_per_line: bool) -> Result<Keys, KeyError> {
        let mut keys = Keys::none();
        keys.add_text(text, origin, several_per_line)?;
        Ok(keys)
    }

    /// Loads identities from the `--sops-age-key-file` path (if given), then the
    /// `SOPS_AGE_KEY_FILE` and `SOPS_AGE_KEY` variables as `env` reports them. Files are read
    /// through `fs`. No source at all yields empty keys (not an error).
    pub fn from_env_and_file(
        key_file: Option<&Path>,
        fs: &dyn Fs,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Keys, KeyError> {
        let mut keys = Keys::none();
        if let Some(path) = key_file {
            keys.add_file(path, fs)?;
        }
        if let Some(path) = env(SOPS_AGE_KEY_FILE).filter(|p| !p.is_empty()) {
            keys.add_file(Path::new(&path), fs)?;
        }
        if let Some(text) = env(SOPS_AGE_KEY) {
            keys.add_text(&text, SOPS_AGE_KEY, true)?;
        }
        Ok(keys)
    }

    /// [`Keys::from_env_and_file`] with the process environment.
    pub fn from_process_env_and_file(
        key_file: Option<&Path>,
        fs: &dyn Fs,
    ) -> Result<Keys, KeyError> {
        Keys::from_env_and_file(key_file, fs, &|name| std::env::var(name).ok())
    }

    fn add_file(&mut self, path: &Path, fs: &dyn Fs) -> Result<(), KeyError> {
        let bytes = fs.read(path).map_err(|source| KeyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|_| KeyError::Identity {
            origin: path.display().to_string(),
            line: 0,
            reason: "the key file is not valid UTF-8",
        })?;
        self.add_text(&text, &path.display().to_string(), false)
    }

    fn add_text(
        &mut self,
        text: &str,
        origin: &str,
        several_per_line: bool,
    ) -> Result<(), KeyError> {
        let before = self.identities.len();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = if several_per_line {
                line.split_whitespace().collect()
            } else {
                vec![line]
            };
            for word in words {
                let identity = parse_identity(word).map_err(|reason| KeyError::Identity {
                    origin: origin.to_string(),
                    line: index + 1,
                    reason,
                })?;
                self.identities.push(identity);
            }
        }
        if self.identities.len() > before {
            self.sources.push(origin.to_string());
        }
        Ok(())
    }

    /// Identities from a Flux decryption Secret (`spec.decryption.secretRef`): every `data`
    /// (base64) or `stringData` entry whose name ends in `.agekey`, as kustomize-controller
    /// imports them. Other entries (`.asc` PGP keys, cloud credentials) are ignored.
    pub fn from_flux_secret(secret: &capstan_core::Value, origin: &str) -> Result<Keys, KeyError> {
        use base64::Engine as _;
        let mut keys = Keys::none();
        for (field, decode) in [("data", true), ("stringData", false)] {
            let Some(entries) = secret.get(field).and_then(|v| v.as_object()) else {
                continue;
            };
            for (name, value) in entries {
                if !name.ends_with(".agekey") {
                    continue;
                }
                let entry_origin = format!("{origin}: {field}.{name}");
                let invalid = |reason| KeyError::Identity {
                    origin: entry_origin.clone(),
                    line: 0,
                    reason,
                };
                let text = value.as_str().ok_or_else(|| invalid("not a string"))?;
                let text = if decode {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .map_err(|_| invalid("not valid base64"))?;
                    String::from_utf8(bytes).map_err(|_| invalid("not valid UTF-8"))?
                } else {
                    text.to_string()
                };
                keys.add_text(&text, &entry_origin, false)?;
            }
        }
        Ok(keys)
    }

    /// True when there is no identity to decrypt with.
    pub fn is_empty(&self) -> bool {
        self.identities.is_empty()
    }

    /// The number of identities.
    pub fn len(&self) -> usize {
        self.identities.len()
    }

    /// The public recipients (`age1...`) of the identities, safe to print.
    pub fn recipients(&self) -> Vec<String> {
        self.identities
            .iter()
            .map(|i| i.to_public().to_string())
            .collect()
    }

    /// Where the identities came from (paths and variable names), safe to print.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    pub(crate) fn identities(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.identities.iter().map(|i| i as &dyn age::Identity)
    }
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("recipients", &self.recipients())
            .field("sources", &self.sources)
            .finish()
    }
}

fn parse_identity(word: &str) -> Result<age::x25519::Identity, &'static str> {
    if word.starts_with("AGE-PLUGIN-") {
        return Err("age plugin identities are not supported");
    }
    if word.starts_with("AGE-SECRET-KEY-PQ-1") {
        return Err("post-quantum age identities are not supported");
    }
    if !word.starts_with("AGE-SECRET-KEY-1") {
        return Err("not an age identity (expected AGE-SECRET-KEY-1...)");
    }
    word.parse::<age::x25519::Identity>()
        .map_err(|_| "malformed age identity")
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_core::MemFs;

    const KEY: &str = "AGE-SECRET-KEY-1NOTAVALIDKEYBUTSHAPEDLIKEONEQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ";

    fn fresh_key() -> String {
        use age::secrecy::ExposeSecret;
        age::x25519::Identity::generate()
            .to_string()
            .expose_secret()
            .to_string()
    }

    #[test]
    fn parses_key_files_with_comments() {
        let one = fresh_key();
        let two = fresh_key();
        let text = format!("# created: today\n# public key: age1xyz\n{one}\n\n{two}\n");
        let keys = Keys::parse(&text, "keys.txt", false).expect("parses");
        assert_eq!(keys.len(), 2);
    }

    #[test]
    fn env_allows_several_keys_per_line() {
        let text = format!("{} {}", fresh_key(), fresh_key());
        assert_eq!(
            Keys::parse(&text, SOPS_AGE_KEY, true)
                .expect("parses")
                .len(),
            2
        );
        assert!(Keys::parse(&text, "file", false).is_err());
    }

    #[test]
    fn combines_flag_file_env_file_and_env_keys() {
        let fs = MemFs::new();
        fs.add_file("/a.txt", fresh_key());
        fs.add_file("/b.txt", format!("# comment\n{}\n", fresh_key()));
        let inline = fresh_key();
        let env = |name: &str| match name {
            SOPS_AGE_KEY_FILE => Some("/b.txt".to_string()),
            SOPS_AGE_KEY => Some(inline.clone()),
            _ => None,
        };
        let keys = Keys::from_env_and_file(Some(Path::new("/a.txt")), &fs, &env).expect("loads");
        assert_eq!(keys.len(), 3);
        assert_eq!(keys.sources(), ["/a.txt", "/b.txt", SOPS_AGE_KEY]);
        let none = Keys::from_env_and_file(None, &fs, &|_| None).expect("loads");
        assert!(none.is_empty());
    }

    #[test]
    fn reads_agekey_entries_of_a_flux_decryption_secret() {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD
            .encode(format!("# comment\n{}\n", fresh_key()));
        let secret = serde_json::json!({
            "kind": "Secret",
            "data": {"identity.agekey": encoded, "other.asc": "AAAA"},
            "stringData": {"second.agekey": fresh_key(), "unrelated": "x"},
        });
        let keys = Keys::from_flux_secret(&secret, "sops-age").expect("loads");
        assert_eq!(keys.len(), 2);
        let bad = serde_json::json!({"data": {"identity.agekey": "!!"}});
        let err = Keys::from_flux_secret(&bad, "sops-age")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sops-age: data.identity.agekey"), "{err}");
    }

    #[test]
    fn missing_key_file_is_an_error_naming_it() {
        let err = Keys::from_env_and_file(Some(Path::new("/nope.txt")), &MemFs::new(), &|_| None)
            .unwrap_err();
        assert!(err.to_string().contains("/nope.txt"), "{err}");
    }

    #[test]
    fn errors_and_debug_never_show_key_material() {
        let secret = fresh_key();
        // A valid key followed by a corrupted one: the error must not echo either.
        let swap = if secret.as_bytes()[30] == b'Q' {
            "P"
        } else {
            "Q"
        };
        let corrupted = format!("{}{swap}{}", &secret[..30], &secret[31..]);
        let text = format!("{secret}\n{corrupted}\n");
        let err = Keys::parse(&text, "keys.txt", false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("keys.txt, line 2"), "{err}");
        assert!(!err.contains("AGE-SECRET-KEY"), "{err}");
        assert!(!err.contains(&secret[20..40]), "{err}");
        let keys = Keys::parse(&secret, "keys.txt", false).expect("parses");
        let debug = format!("{keys:?}");
        assert!(!debug.contains("AGE-SECRET-KEY"), "{debug}");
        assert!(debug.contains("age1"), "{debug}");
        let bad = Keys::parse(KEY, "env", true).unwrap_err().to_string();
        assert!(!bad.contains(KEY), "{bad}");
    }
}
