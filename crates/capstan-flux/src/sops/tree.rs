//! Walking a SOPS tree: decrypting each value the rules mark as encrypted and hashing every
//! value (or only the encrypted ones, with `mac_only_encrypted`) into the MAC, in tree order.
//!
//! The walk follows `sops.Tree.Decrypt`: mapping keys extend the path, list items keep their
//! parent's path, nulls are skipped, the additional data of a value is its path joined with
//! `:` plus a trailing `:`. The MAC is SHA-512 over the plaintext bytes (`sops.ToBytes`),
//! upper-case hex, stored encrypted with `lastmodified` as additional data.

use sha2::{Digest, Sha512};

use super::SopsError;
use super::cipher::{self, DataKey, Plain, ValueType};
use super::metadata::Metadata;
use capstan_core::Value;

/// Seeds the MAC when `mac_only_encrypted` is set, so the two modes never collide
/// (SHA-256 of "sops", as SOPS defines it).
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

/// Marks a sequence item that decrypted to a comment, when the caller keeps them (YAML output
/// writes them back as comments). Starts with NUL, which no YAML scalar SOPS reads can.
pub(crate) const COMMENT_ITEM: &str = "\u{0}capstan-sops-comment\u{0}";

pub(crate) struct TreeDecryptor<'a> {
    /// Keep sequence items that decrypt to comments (as [`COMMENT_ITEM`] strings) instead of
    /// dropping them.
    pub(crate) keep_comment_items: bool,
    /// Keep decrypted floats as floats (files are written back as SOPS writes them), instead
    /// of turning whole numbers into integers as Flux's JSON round trip does for objects.
    pub(crate) keep_floats: bool,
    metadata: &'a Metadata,
    key: &'a DataKey,
    hasher: Sha512,
    origin: &'a str,
}

/// The field path as capstan prints it: `stringData.password`.
pub(crate) fn field_path(path: &[String]) -> String {
    if path.is_empty() {
        "(top level)".to_string()
    } else {
        path.join(".")
    }
}

fn additional_data(path: &[String]) -> String {
    let mut aad = path.join(":");
    aad.push(':');
    aad
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    }
}

/// The bytes SOPS hashes for a value that is not encrypted.
fn value_mac_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Bool(b) => cipher::bool_text(*b).as_bytes().to_vec(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if !(n.is_i64() || n.is_u64()) => cipher::format_float(f).into_bytes(),
            _ => n.to_string().into_bytes(),
        },
        Value::Null | Value::Array(_) | Value::Object(_) => Vec::new(),
    }
}

impl<'a> TreeDecryptor<'a> {
    pub(crate) fn new(
        metadata: &'a Metadata,
        key: &'a DataKey,
        origin: &'a str,
    ) -> TreeDecryptor<'a> {
        let mut hasher = Sha512::new();
        if metadata.mac_only_encrypted {
            hasher.update(MAC_ONLY_ENCRYPTED_INIT);
        }
        TreeDecryptor {
            keep_comment_items: false,
            keep_floats: false,
            metadata,
            key,
            hasher,
            origin,
        }
    }

    /// Decrypts a whole tree in place, skipping the top-level `sops` key.
    pub(crate) fn walk_document(&mut self, document: &mut Value) -> Result<(), SopsError> {
        let mut path = Vec::new();
        match document {
            Value::Object(map) => {
                for (key, value) in map.iter_mut() {
                    if key == "sops" {
                        continue;
                    }
                    path.push(key.clone());
                    self.walk(value, &mut path)?;
                    path.pop();
                }
                Ok(())
            }
            Value::Null => Ok(()),
            other => Err(SopsError::Format {
                origin: self.origin.to_string(),
                reason: format!(
                    "a SOPS document must be a mapping, found a {}",
                    kind_of(other)
                ),
            }),
        }
    }

    /// Decrypts one top-level entry of a document in place.
    pub(crate) fn walk_entry(&mut self, key: &str, value: &mut Value) -> Result<(), SopsError> {
        let mut path = vec![key.to_string()];
        self.walk(value, &mut path)
    }

    fn walk(&mut self, value: &mut Value, path: &mut Vec<String>) -> Result<(), SopsError> {
        match value {
            Value::Object(map) => {
                for (key, item) in map.iter_mut() {
                    path.push(key.clone());
                    self.walk(item, path)?;
                    path.pop();
                }
                Ok(())
            }
            Value::Array(items) => {
                // An item that decrypts to a comment (sops writes comments inside sequences
                // as encrypted items) is a comment again: dropped from the values, as SOPS'
                // JSON output drops it.
                let mut comments = Vec::new();
                for (index, item) in items.iter_mut().enumerate() {
                    if let Value::Array(_) | Value::Object(_) = item {
                        self.walk(item, path)?;
                    } else if !item.is_null() && self.leaf(item, path)? {
                        comments.push(index);
                    }
                }
                for index in comments.into_iter().rev() {
                    if self.keep_comment_items {
                        let text = items[index].as_str().unwrap_or_default().to_string();
                        items[index] = Value::String(format!("{COMMENT_ITEM}{text}"));
                    } else {
                        items.remove(index);
                    }
                }
                Ok(())
            }
            Value::Null => Ok(()),
            _ => self.leaf(value, path).map(|_| ()),
        }
    }

    fn value_error(&self, path: &[String], reason: String) -> SopsError {
        SopsError::Value {
            origin: self.origin.to_string(),
            field: field_path(path),
            reason,
        }
    }

    /// Decrypts (when the rules say so) and hashes one scalar. Returns true when the value
    /// decrypted to a comment, which (as in sops 3.11) is not part of the MAC.
    pub(crate) fn leaf(&mut self, value: &mut Value, path: &[String]) -> Result<bool, SopsError> {
        let encrypted = self.metadata.rules.encrypts(path);
        let mut is_comment = false;
        let mac_bytes = if encrypted {
            let Value::String(text) = &*value else {
                return Err(self.value_error(
                    path,
                    format!("expected an encrypted string, found a {}", kind_of(value)),
                ));
            };
            let plain = cipher::decrypt(text, self.key, &additional_data(path))
                .map_err(|e| self.value_error(path, e.to_string()))?;
            is_comment = matches!(plain, Plain::Text(ValueType::Comment, _));
            let bytes = plain.mac_bytes();
            *value = self.plain_to_value(plain, path)?;
            bytes
        } else {
            value_mac_bytes(value)
        };
        if (!self.metadata.mac_only_encrypted || encrypted) && !is_comment {
            self.hasher.update(&mac_bytes);
        }
        Ok(is_comment)
    }

    /// Decrypts and hashes one string value as raw bytes (the binary store's `data`).
    pub(crate) fn leaf_bytes(&mut self, text: &str, path: &[String]) -> Result<Vec<u8>, SopsError> {
        let encrypted = self.metadata.rules.encrypts(path);
        let (bytes, is_comment) = if encrypted {
            let plain = cipher::decrypt(text, self.key, &additional_data(path))
                .map_err(|e| self.value_error(path, e.to_string()))?;
            let is_comment = matches!(plain, Plain::Text(ValueType::Comment, _));
            (plain.mac_bytes(), is_comment)
        } else {
            (text.as_bytes().to_vec(), false)
        };
        if (!self.metadata.mac_only_encrypted || encrypted) && !is_comment {
            self.hasher.update(&bytes);
        }
        Ok(bytes)
    }

    /// A comment under `path` (its parent's path): decrypted when the rules encrypt that path
    /// and it decrypts; left as it is otherwise, as SOPS does. Comments are not in the MAC.
    pub(crate) fn comment(&self, text: &str, path: &[String]) -> String {
        if !self.metadata.rules.encrypts(path) || !cipher::is_encrypted_value(text) {
            return text.to_string();
        }
        match cipher::decrypt(text, self.key, &additional_data(path)) {
            Ok(Plain::Text(_, bytes)) => {
                String::from_utf8(bytes).unwrap_or_else(|_| text.to_string())
            }
            _ => text.to_string(),
        }
    }

    fn plain_to_value(&self, plain: Plain, path: &[String]) -> Result<Value, SopsError> {
        Ok(match plain {
            Plain::Text(_, bytes) => Value::String(String::from_utf8(bytes).map_err(|_| {
                self.value_error(path, "the decrypted value is not valid UTF-8".into())
            })?),
            Plain::Int(i) => Value::from(i),
            Plain::Bool(b) => Value::Bool(b),
            Plain::Float(f) => float_value(f, self.keep_floats).ok_or_else(|| {
                self.value_error(path, "the decrypted float is not a finite number".into())
            })?,
        })
    }

    /// Checks the computed MAC against the one stored in the metadata.
    pub(crate) fn verify(mut self) -> Result<(), SopsError> {
        self.verify_mac()
    }

    /// [`TreeDecryptor::verify`] that leaves the decryptor usable for comments.
    pub(crate) fn verify_mac(&mut self) -> Result<(), SopsError> {
        let computed: String = std::mem::take(&mut self.hasher)
            .finalize()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        let mismatch = |reason: &str| SopsError::MacMismatch {
            origin: self.origin.to_string(),
            reason: reason.to_string(),
        };
        if self.metadata.mac.is_empty() {
            return Err(mismatch("the file has no MAC"));
        }
        let stored = match cipher::decrypt(
            &self.metadata.mac,
            self.key,
            &self.metadata.last_modified,
        ) {
            Ok(Plain::Text(ValueType::Str, bytes)) => bytes,
            Ok(_) => return Err(mismatch("the stored MAC is not a string")),
            Err(_) => {
                return Err(mismatch(
                    "the stored MAC cannot be decrypted (the mac or lastmodified field was changed)",
                ));
            }
        };
        if stored != computed.as_bytes() {
            return Err(mismatch(
                "the values were changed after the file was encrypted",
            ));
        }
        Ok(())
    }
}

/// A decrypted float as capstan's object model holds it. Whole numbers become integers, as
/// they do on Flux's path (Go's JSON encoder writes `3.0` as `3`, which reads back as an int).
fn float_value(f: f64, keep_floats: bool) -> Option<Value> {
    if keep_floats {
        return serde_json::Number::from_f64(f).map(Value::Number);
    }
    let whole = f.fract() == 0.0 && f.abs() < 1e21 && !(f == 0.0 && f.is_sign_negative());
    if whole && f >= i64::MIN as f64 && f <= i64::MAX as f64 {
        return Some(Value::from(f as i64));
    }
    serde_json::Number::from_f64(f).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unencrypted_values_hash_like_sops_to_bytes() {
        assert_eq!(value_mac_bytes(&serde_json::json!(5432)), b"5432");
        assert_eq!(value_mac_bytes(&serde_json::json!(0.25)), b"0.25");
        assert_eq!(value_mac_bytes(&serde_json::json!(3.0)), b"3");
        assert_eq!(value_mac_bytes(&serde_json::json!(true)), b"True");
        assert_eq!(value_mac_bytes(&serde_json::json!("x")), b"x");
    }

    #[test]
    fn floats_become_values_like_flux_writes_them() {
        assert_eq!(float_value(3.0, false), Some(serde_json::json!(3)));
        assert_eq!(
            float_value(1.5e10, false),
            Some(serde_json::json!(15000000000i64))
        );
        assert_eq!(float_value(0.25, false), Some(serde_json::json!(0.25)));
        assert_eq!(float_value(f64::NAN, false), None);
    }

    #[test]
    fn additional_data_is_the_colon_joined_path() {
        assert_eq!(additional_data(&["a".into(), "b".into()]), "a:b:");
        assert_eq!(additional_data(&[]), ":");
    }
}
