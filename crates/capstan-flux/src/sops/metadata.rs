//! The `sops:` metadata block: which master keys hold the data key, the MAC, its timestamp, and
//! the rules that decide which values are encrypted.
//!
//! Read as SOPS reads it (mapstructure with weak typing: `"true"` is a boolean, `3.7` a string).
//! Only age master keys can be used; pgp, kms, gcp_kms, azure_kv, hc_vault and hckms entries
//! are recognised so the error can say which keys the file would need. A data key split over
//! several key groups (Shamir) is rebuilt from the groups the identities open.

use std::io::Read as _;

use regex::Regex;

use super::cipher::DataKey;
use super::keys::Keys;
use super::shamir;
use crate::sops::SopsError;
use capstan_core::Value;

/// One age master key: a recipient and the data key encrypted to it, armored.
#[derive(Debug, Clone)]
pub(crate) struct AgeKey {
    /// The key group it belongs to (0 without `key_groups`).
    pub(crate) group: usize,
    pub(crate) recipient: String,
    pub(crate) enc: String,
}

/// The parsed metadata.
#[derive(Debug)]
pub(crate) struct Metadata {
    pub(crate) age: Vec<AgeKey>,
    /// Names of the other master-key kinds present (pgp, kms, ...).
    pub(crate) other_keys: Vec<&'static str>,
    pub(crate) key_groups: usize,
    /// How many key groups must open their share of a Shamir-split data key.
    pub(crate) shamir_threshold: usize,
    /// `lastmodified` as SOPS re-formats it for the MAC's additional data.
    pub(crate) last_modified: String,
    pub(crate) mac: String,
    pub(crate) rules: Rules,
    pub(crate) mac_only_encrypted: bool,
}

/// Which values are encrypted (`sops.Tree.shouldBeEncrypted` without comment rules).
#[derive(Debug)]
pub(crate) enum Rules {
    UnencryptedSuffix(String),
    EncryptedSuffix(String),
    UnencryptedRegex(Regex),
    EncryptedRegex(Regex),
}

impl Rules {
    /// True when a value at `path` is encrypted. Any key on the path counts.
    pub(crate) fn encrypts(&self, path: &[String]) -> bool {
        match self {
            Rules::UnencryptedSuffix(suffix) => !path.iter().any(|k| k.ends_with(suffix.as_str())),
            Rules::EncryptedSuffix(suffix) => path.iter().any(|k| k.ends_with(suffix.as_str())),
            Rules::UnencryptedRegex(re) => !path.iter().any(|k| re.is_match(k)),
            Rules::EncryptedRegex(re) => path.iter().any(|k| re.is_match(k)),
        }
    }
}

const OTHER_KEY_KINDS: [&str; 6] = ["pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms"];

/// mapstructure's weak string conversion.
fn weak_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// mapstructure's weak bool conversion.
fn weak_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => Some(n.as_f64() != Some(0.0)),
        Value::String(s) if s.is_empty() => Some(false),
        Value::String(s) => match s.as_str() {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
            _ => None,
        },
        Value::Null => Some(false),
        _ => None,
    }
}

impl Metadata {
    /// Reads the `sops` mapping. `origin` names the file or object in errors.
    pub(crate) fn parse(sops: &Value, origin: &str) -> Result<Metadata, SopsError> {
        let bad = |field: &str, reason: String| SopsError::Metadata {
            origin: origin.to_string(),
            field: format!("sops.{field}"),
            reason,
        };
        let map = sops
            .as_object()
            .ok_or_else(|| bad("", "the sops metadata is not a mapping".into()))?;
        let text = |field: &str| -> Result<Option<String>, SopsError> {
            match map.get(field) {
                None => Ok(None),
                Some(v) => weak_string(v)
                    .map(Some)
                    .ok_or_else(|| bad(field, "expected a string".into())),
            }
        };

        let mut age = Vec::new();
        let mut other_keys = Vec::new();
        let key_groups;
        let mut read_group = |group: &serde_json::Map<String, Value>,
                              index: usize,
                              at: &str|
         -> Result<(), SopsError> {
            if let Some(list) = group.get("age") {
                let items = match list {
                    Value::Array(items) => items.as_slice(),
                    Value::Null => &[],
                    _ => return Err(bad(&format!("{at}age"), "expected a list".into())),
                };
                for (i, item) in items.iter().enumerate() {
                    let field = |name: &str| {
                        item.get(name).and_then(weak_string).ok_or_else(|| {
                            bad(
                                &format!("{at}age[{i}].{name}"),
                                "missing or not a string".into(),
                            )
                        })
                    };
                    age.push(AgeKey {
                        group: index,
                        recipient: field("recipient")?,
                        enc: field("enc")?,
                    });
                }
            }
            for kind in OTHER_KEY_KINDS {
                let present = match group.get(kind) {
                    Some(Value::Array(items)) => !items.is_empty(),
                    Some(Value::Null) | None => false,
                    Some(_) => true,
                };
                if present && !other_keys.contains(&kind) {
                    other_keys.push(kind);
                }
            }
            Ok(())
        };
        match map.get("key_groups") {
            Some(Value::Array(groups)) if !groups.is_empty() => {
                key_groups = groups.len();
                for (i, group) in groups.iter().enumerate() {
                    let group = group.as_object().ok_or_else(|| {
                        bad(&format!("key_groups[{i}]"), "expected a mapping".into())
                    })?;
                    read_group(group, i, &format!("key_groups[{i}]."))?;
                }
            }
            Some(Value::Array(_)) | Some(Value::Null) | None => {
                key_groups = 1;
                read_group(map, 0, "")?;
            }
            Some(_) => return Err(bad("key_groups", "expected a list".into())),
        }

        let shamir_threshold = match map.get("shamir_threshold") {
            None | Some(Value::Null) => 0,
            Some(v) => weak_string(v)
                .and_then(|t| t.parse::<usize>().ok())
                .ok_or_else(|| bad("shamir_threshold", "expected a number".into()))?,
        };
        let last_modified =
            text("lastmodified")?.ok_or_else(|| bad("lastmodified", "missing".into()))?;
        let last_modified = normalize_rfc3339(&last_modified)
            .ok_or_else(|| bad("lastmodified", "not an RFC 3339 timestamp".into()))?;
        let mac = text("mac")?.unwrap_or_default();

        let mut rules = Vec::new();
        for field in [
            "unencrypted_suffix",
            "encrypted_suffix",
            "unencrypted_regex",
            "encrypted_regex",
            "unencrypted_comment_regex",
            "encrypted_comment_regex",
        ] {
            if let Some(value) = text(field)?.filter(|v| !v.is_empty()) {
                rules.push((field, value));
            }
        }
        if rules.len() > 1 {
            let names: Vec<&str> = rules.iter().map(|(f, _)| *f).collect();
            return Err(bad(
                &names.join(", "),
                "only one of these rules may be set".into(),
            ));
        }
        let regex = |field: &str, pattern: &str| {
            Regex::new(pattern).map_err(|e| bad(field, format!("invalid regular expression: {e}")))
        };
        let rules = match rules.pop() {
            None => Rules::UnencryptedSuffix("_unencrypted".to_string()),
            Some(("unencrypted_suffix", v)) => Rules::UnencryptedSuffix(v),
            Some(("encrypted_suffix", v)) => Rules::EncryptedSuffix(v),
            Some(("unencrypted_regex", v)) => {
                Rules::UnencryptedRegex(regex("unencrypted_regex", &v)?)
            }
            Some(("encrypted_regex", v)) => Rules::EncryptedRegex(regex("encrypted_regex", &v)?),
            Some((field, _)) => {
                return Err(bad(
                    field,
                    "comment-based encryption rules are not supported (Flux decrypts objects after comments are gone)"
                        .into(),
                ));
            }
        };
        let mac_only_encrypted = match map.get("mac_only_encrypted") {
            None => false,
            Some(v) => weak_bool(v)
                .ok_or_else(|| bad("mac_only_encrypted", "expected a boolean".into()))?,
        };
        Ok(Metadata {
            age,
            other_keys,
            key_groups,
            shamir_threshold,
            last_modified,
            mac,
            rules,
            mac_only_encrypted,
        })
    }

    /// Recovers the data key with the first age master key one of `keys` opens.
    pub(crate) fn data_key(&self, keys: &Keys, origin: &str) -> Result<DataKey, SopsError> {
        if self.age.is_empty() {
            let reason = if self.other_keys.is_empty() {
                "the sops metadata lists no master key".to_string()
            } else {
                format!(
                    "the file is encrypted only for {} master keys; capstan decrypts age keys only",
                    self.other_keys.join(", ")
                )
            };
            return Err(SopsError::NoUsableKey {
                origin: origin.to_string(),
                reason,
            });
        }
        if keys.is_empty() {
            return Err(SopsError::NoKeys {
                origin: origin.to_string(),
                recipients: self.recipients(),
            });
        }
        let mut parts = Vec::new();
        let mut last_failure = String::new();
        for group in 0..self.key_groups {
            for key in self.age.iter().filter(|k| k.group == group) {
                match open_age(&key.enc, keys) {
                    Ok(part) => {
                        parts.push(zeroize::Zeroizing::new(part));
                        break;
                    }
                    Err(failure) => last_failure = failure,
                }
            }
        }
        let unusable = |reason: String| SopsError::NoUsableKey {
            origin: origin.to_string(),
            reason,
        };
        if self.key_groups <= 1 {
            let Some(part) = parts.pop() else {
                return Err(SopsError::NoMatchingKey {
                    origin: origin.to_string(),
                    recipients: self.recipients(),
                    identities: keys.len(),
                    reason: last_failure,
                });
            };
            return DataKey::new(part.to_vec()).map_err(unusable);
        }
        // Shamir: each group holds one share; `shamir_threshold` of them rebuild the key.
        if parts.len() < self.shamir_threshold.max(2) {
            return Err(SopsError::NoMatchingKey {
                origin: origin.to_string(),
                recipients: self.recipients(),
                identities: keys.len(),
                reason: format!(
                    "the data key is split over {} key groups and {} are needed; the identities open {}",
                    self.key_groups,
                    self.shamir_threshold.max(2),
                    parts.len()
                ),
            });
        }
        let shares: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
        let key = shamir::combine(&shares).map_err(unusable)?;
        DataKey::new(key).map_err(unusable)
    }

    fn recipients(&self) -> String {
        self.age
            .iter()
            .map(|k| k.recipient.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn open_age(armored: &str, keys: &Keys) -> Result<Vec<u8>, String> {
    let reader = age::armor::ArmoredReader::new(armored.trim_start().as_bytes());
    let decryptor = age::Decryptor::new_buffered(reader).map_err(|e| describe_age_error(&e))?;
    let mut stream = decryptor
        .decrypt(keys.identities())
        .map_err(|e| describe_age_error(&e))?;
    let mut plaintext = Vec::new();
    stream
        .read_to_end(&mut plaintext)
        .map_err(|_| "the age payload is corrupt".to_string())?;
    Ok(plaintext)
}

fn describe_age_error(error: &age::DecryptError) -> String {
    match error {
        age::DecryptError::NoMatchingKeys => "no identity matches".to_string(),
        age::DecryptError::InvalidHeader | age::DecryptError::Io(_) => {
            "the encrypted data key is not a valid armored age file".to_string()
        }
        age::DecryptError::InvalidMac | age::DecryptError::DecryptionFailed => {
            "the encrypted data key is corrupt".to_string()
        }
        other => format!("age: {other}"),
    }
}

/// `time.Parse(time.RFC3339, s).Format(time.RFC3339)`: fractional seconds dropped, a zero
/// offset written `Z`.
pub(crate) fn normalize_rfc3339(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    if !(digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10))
    {
        return None;
    }
    if !(matches!(b.get(10), Some(b'T' | b't'))
        && digits(11..13)
        && b.get(13) == Some(&b':')
        && digits(14..16)
        && b.get(16) == Some(&b':')
        && digits(17..19))
    {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let end = frac
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(frac.len());
        if end == 0 {
            return None;
        }
        rest = &frac[end..];
    }
    let offset = match rest {
        "Z" | "z" => "Z".to_string(),
        _ => {
            let ob = rest.as_bytes();
            let ok = ob.len() == 6
                && matches!(ob[0], b'+' | b'-')
                && ob[1..3].iter().all(u8::is_ascii_digit)
                && ob[3] == b':'
                && ob[4..6].iter().all(u8::is_ascii_digit);
            if !ok {
                return None;
            }
            if &rest[1..] == "00:00" {
                "Z".to_string()
            } else {
                rest.to_string()
            }
        }
    };
    Some(format!("{}T{}{offset}", &s[..10], &s[11..19]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_timestamps_like_go() {
        assert_eq!(
            normalize_rfc3339("2024-01-02T03:04:05Z").as_deref(),
            Some("2024-01-02T03:04:05Z")
        );
        assert_eq!(
            normalize_rfc3339("2024-01-02T03:04:05.123Z").as_deref(),
            Some("2024-01-02T03:04:05Z")
        );
        assert_eq!(
            normalize_rfc3339("2024-01-02T03:04:05+00:00").as_deref(),
            Some("2024-01-02T03:04:05Z")
        );
        assert_eq!(
            normalize_rfc3339("2024-01-02T03:04:05+02:00").as_deref(),
            Some("2024-01-02T03:04:05+02:00")
        );
        for bad in [
            "",
            "2024",
            "2024-01-02",
            "2024-01-02T03:04:05",
            "2024-01-02T03:04:05+2",
            "2024-01-02T03:04:05.Z",
        ] {
            assert_eq!(normalize_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn rules_follow_sops() {
        let path = |keys: &[&str]| keys.iter().map(|k| k.to_string()).collect::<Vec<_>>();
        let default = Rules::UnencryptedSuffix("_unencrypted".into());
        assert!(default.encrypts(&path(&["data", "x"])));
        assert!(!default.encrypts(&path(&["a_unencrypted", "x"])));
        let regex = Rules::EncryptedRegex(Regex::new("^(data|stringData)$").expect("regex"));
        assert!(regex.encrypts(&path(&["stringData", "x"])));
        assert!(!regex.encrypts(&path(&["metadata", "name"])));
        let suffix = Rules::EncryptedSuffix("_secret".into());
        assert!(suffix.encrypts(&path(&["a_secret", "inner"])));
        assert!(!suffix.encrypts(&path(&["a", "inner"])));
    }

    #[test]
    fn reports_unusable_key_kinds() {
        let sops = serde_json::json!({
            "kms": [{"arn": "arn:aws:kms:x", "enc": "abc"}],
            "pgp": [{"fp": "ABCD", "enc": "abc"}],
            "lastmodified": "2024-01-01T00:00:00Z",
            "mac": "ENC[...]",
        });
        let metadata = Metadata::parse(&sops, "x.yaml").expect("parses");
        let err = metadata
            .data_key(&Keys::none(), "x.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("pgp, kms") && err.contains("age keys only"),
            "{err}"
        );
    }

    #[test]
    fn rejects_two_rules_and_bad_regex() {
        let two = serde_json::json!({"lastmodified": "2024-01-01T00:00:00Z", "encrypted_regex": "a", "unencrypted_suffix": "_u"});
        assert!(Metadata::parse(&two, "x").is_err());
        let bad =
            serde_json::json!({"lastmodified": "2024-01-01T00:00:00Z", "encrypted_regex": "("});
        assert!(Metadata::parse(&bad, "x").is_err());
        let weak = serde_json::json!({"lastmodified": "2024-01-01T00:00:00Z", "mac_only_encrypted": "true"});
        assert!(
            Metadata::parse(&weak, "x")
                .expect("parses")
                .mac_only_encrypted
        );
    }
}
