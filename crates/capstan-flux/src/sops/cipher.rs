//! The value cipher SOPS uses: AES-256-GCM over each value, stored as
//! `ENC[AES256_GCM,data:<b64>,iv:<b64>,tag:<b64>,type:<type>]`.
//!
//! The additional authenticated data is the path of keys leading to the value, each followed
//! by `:` (list indices are not part of the path), or the `lastmodified` timestamp for the MAC.
//! The nonce is whatever length the file carries (SOPS writes 32 bytes). Decrypted plaintext is
//! typed by the `type:` field and normalised exactly as SOPS does before it is hashed into the MAC.

use aes_gcm::AesGcm;
use aes_gcm::aead::consts::{U12, U16, U32};
use aes_gcm::aead::generic_array::{ArrayLength, GenericArray};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use base64::Engine as _;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
use zeroize::Zeroizing;

/// The 32-byte data key of a SOPS file. Zeroed on drop; never printed.
pub(crate) struct DataKey(Zeroizing<Vec<u8>>);

impl DataKey {
    pub(crate) fn new(bytes: Vec<u8>) -> Result<DataKey, String> {
        let bytes = Zeroizing::new(bytes);
        if bytes.len() != 32 {
            return Err(format!(
                "the data key is {} bytes long, expected 32",
                bytes.len()
            ));
        }
        Ok(DataKey(bytes))
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// The `type:` of an encrypted value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueType {
    Str,
    Int,
    Float,
    Bool,
    Bytes,
    Time,
    Comment,
}

impl ValueType {
    fn parse(name: &str) -> Option<ValueType> {
        Some(match name {
            "str" => ValueType::Str,
            "int" => ValueType::Int,
            "float" => ValueType::Float,
            "bool" => ValueType::Bool,
            "bytes" => ValueType::Bytes,
            "time" => ValueType::Time,
            "comment" => ValueType::Comment,
            _ => return None,
        })
    }
}

/// A decrypted value, typed as the `type:` field says.
#[derive(Clone, PartialEq)]
pub(crate) enum Plain {
    /// `str`, `bytes`, `time` and `comment` values: the raw plaintext.
    Text(ValueType, Vec<u8>),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Plain {
    /// The bytes SOPS feeds into the MAC for this value (`sops.ToBytes`).
    pub(crate) fn mac_bytes(&self) -> Vec<u8> {
        match self {
            Plain::Text(_, bytes) => bytes.clone(),
            Plain::Int(i) => i.to_string().into_bytes(),
            Plain::Float(f) => format_float(*f).into_bytes(),
            Plain::Bool(b) => bool_text(*b).as_bytes().to_vec(),
        }
    }
}

/// `strconv.FormatFloat(f, 'f', -1, 64)`: shortest round-trip digits, never an exponent.
pub(crate) fn format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_string()
    } else if f.is_infinite() {
        if f > 0.0 {
            "+Inf".to_string()
        } else {
            "-Inf".to_string()
        }
    } else {
        format!("{f}")
    }
}

/// How SOPS writes booleans into the MAC (title case, from its Python ancestor).
pub(crate) fn bool_text(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// Why one encrypted value could not be decrypted. Never carries plaintext or key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CipherError {
    #[error("the value is not in SOPS' ENC[AES256_GCM,data:...,iv:...,tag:...,type:...] format")]
    Format,
    #[error("the {0} of the encrypted value is not valid base64")]
    Base64(&'static str),
    #[error("the encrypted value has an unsupported IV length of {0} bytes")]
    IvLength(usize),
    #[error("the encrypted value has a {0}-byte tag, expected 16")]
    TagLength(usize),
    #[error("unknown value type `{0}`")]
    UnknownType(String),
    #[error("authentication failed: wrong data key, or the value or its path was changed")]
    Authentication,
    #[error("the decrypted value is not a valid {0}")]
    Type(&'static str),
}

struct Encrypted {
    data: Vec<u8>,
    iv: Vec<u8>,
    tag: Vec<u8>,
    value_type: ValueType,
}

/// Go's `base64.StdEncoding`: padded, lenient about trailing bits.
const STD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// True when a string is an encrypted SOPS value (the prefix SOPS itself matches on).
pub(crate) fn is_encrypted_value(s: &str) -> bool {
    s.starts_with("ENC[AES256_GCM,data:")
}

/// Splits `ENC[AES256_GCM,data:D,iv:I,tag:T,type:Y]` like SOPS' pattern
/// `^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]` (greedy groups, trailing text
/// after the last `]` ignored).
fn split(value: &str) -> Option<(&str, &str, &str, &str)> {
    let rest = value.strip_prefix("ENC[AES256_GCM,data:")?;
    // Greedy `(.+)` groups: take the last occurrence of each following marker that still
    // leaves the remaining markers matchable.
    let type_at = rest.rfind(",type:")?;
    let (head, type_part) = (&rest[..type_at], &rest[type_at + ",type:".len()..]);
    let close = type_part.rfind(']')?;
    let value_type = &type_part[..close];
    let tag_at = head.rfind(",tag:")?;
    let (head, tag) = (&head[..tag_at], &head[tag_at + ",tag:".len()..]);
    let iv_at = head.rfind(",iv:")?;
    let (data, iv) = (&head[..iv_at], &head[iv_at + ",iv:".len()..]);
    if data.is_empty() || iv.is_empty() || tag.is_empty() || value_type.is_empty() {
        return None;
    }
    if [data, iv, tag, value_type]
        .iter()
        .any(|part| part.contains('\n'))
    {
        return None;
    }
    Some((data, iv, tag, value_type))
}

fn parse(value: &str) -> Result<Encrypted, CipherError> {
    let (data, iv, tag, value_type) = split(value).ok_or(CipherError::Format)?;
    let data = STD.decode(data).map_err(|_| CipherError::Base64("data"))?;
    let iv = STD.decode(iv).map_err(|_| CipherError::Base64("iv"))?;
    let tag = STD.decode(tag).map_err(|_| CipherError::Base64("tag"))?;
    let value_type = ValueType::parse(value_type)
        .ok_or_else(|| CipherError::UnknownType(value_type.chars().take(16).collect()))?;
    Ok(Encrypted {
        data,
        iv,
        tag,
        value_type,
    })
}

fn open<N: ArrayLength<u8>>(
    key: &DataKey,
    enc: &Encrypted,
    aad: &[u8],
) -> Result<Vec<u8>, CipherError> {
    let cipher =
        AesGcm::<Aes256, N>::new_from_slice(&key.0).map_err(|_| CipherError::Authentication)?;
    let nonce = GenericArray::<u8, N>::from_slice(&enc.iv);
    let mut sealed = Vec::with_capacity(enc.data.len() + enc.tag.len());
    sealed.extend_from_slice(&enc.data);
    sealed.extend_from_slice(&enc.tag);
    cipher
        .decrypt(nonce, Payload { msg: &sealed, aad })
        .map_err(|_| CipherError::Authentication)
}

/// Decrypts one SOPS value with the data key and the additional data (`a:b:` path or the
/// `lastmodified` timestamp). An empty string decrypts to an empty string, as in SOPS.
pub(crate) fn decrypt(value: &str, key: &DataKey, aad: &str) -> Result<Plain, CipherError> {
    if value.is_empty() {
        return Ok(Plain::Text(ValueType::Str, Vec::new()));
    }
    let enc = parse(value)?;
    if enc.tag.len() != 16 {
        return Err(CipherError::TagLength(enc.tag.len()));
    }
    let plaintext = match enc.iv.len() {
        12 => open::<U12>(key, &enc, aad.as_bytes())?,
        16 => open::<U16>(key, &enc, aad.as_bytes())?,
        32 => open::<U32>(key, &enc, aad.as_bytes())?,
        n => return Err(CipherError::IvLength(n)),
    };
    typed(enc.value_type, plaintext)
}

fn typed(value_type: ValueType, plaintext: Vec<u8>) -> Result<Plain, CipherError> {
    let text = || std::str::from_utf8(&plaintext).ok();
    Ok(match value_type {
        ValueType::Str | ValueType::Bytes | ValueType::Time | ValueType::Comment => {
            Plain::Text(value_type, plaintext)
        }
        ValueType::Int => Plain::Int(
            text()
                .and_then(parse_go_int)
                .ok_or(CipherError::Type("int"))?,
        ),
        ValueType::Float => Plain::Float(
            text()
                .and_then(parse_go_float)
                .ok_or(CipherError::Type("float"))?,
        ),
        ValueType::Bool => Plain::Bool(
            text()
                .and_then(parse_go_bool)
                .ok_or(CipherError::Type("bool"))?,
        ),
    })
}

/// `strconv.Atoi`: optional sign, decimal digits, 64-bit range.
fn parse_go_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `strconv.ParseFloat(s, 64)` for the forms SOPS writes (plain decimals) and the usual
/// exponent, infinity and NaN spellings.
fn parse_go_float(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    if matches!(unsigned, "inf" | "infinity" | "nan") {
        return lower.replace("infinity", "inf").parse().ok();
    }
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
    {
        return None;
    }
    s.parse().ok()
}

/// `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Encrypts like SOPS does (for tests of the decryption side only).
    pub(crate) fn encrypt_for_test(
        key: &DataKey,
        plaintext: &[u8],
        aad: &str,
        type_name: &str,
    ) -> String {
        let cipher = AesGcm::<Aes256, U32>::new_from_slice(&key.0).expect("32-byte key");
        let iv = [7u8; 32];
        let sealed = cipher
            .encrypt(
                GenericArray::from_slice(&iv),
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .expect("encryption cannot fail");
        let (data, tag) = sealed.split_at(sealed.len() - 16);
        format!(
            "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{type_name}]",
            STD.encode(data),
            STD.encode(iv),
            STD.encode(tag)
        )
    }

    pub(crate) fn test_key() -> DataKey {
        DataKey::new((0u8..32).collect()).expect("32 bytes")
    }

    #[test]
    fn round_trips_each_type() {
        let key = test_key();
        let cases: &[(&[u8], &str, Plain)] = &[
            (
                b"hello",
                "str",
                Plain::Text(ValueType::Str, b"hello".to_vec()),
            ),
            (b"42", "int", Plain::Int(42)),
            (b"-7", "int", Plain::Int(-7)),
            (b"0.25", "float", Plain::Float(0.25)),
            (b"15000000000", "float", Plain::Float(1.5e10)),
            (b"True", "bool", Plain::Bool(true)),
            (b"false", "bool", Plain::Bool(false)),
            (
                b" note",
                "comment",
                Plain::Text(ValueType::Comment, b" note".to_vec()),
            ),
        ];
        for (plaintext, type_name, expected) in cases {
            let enc = encrypt_for_test(&key, plaintext, "a:b:", type_name);
            let plain = decrypt(&enc, &key, "a:b:").expect("decrypts");
            assert!(plain == *expected, "{type_name} {plaintext:?}");
        }
    }

    #[test]
    fn wrong_additional_data_fails_authentication() {
        let key = test_key();
        let enc = encrypt_for_test(&key, b"v", "a:", "str");
        assert_eq!(
            decrypt(&enc, &key, "b:").err(),
            Some(CipherError::Authentication)
        );
    }

    #[test]
    fn mac_bytes_match_sops_to_bytes() {
        assert_eq!(Plain::Float(3.0).mac_bytes(), b"3");
        assert_eq!(Plain::Float(1e-7).mac_bytes(), b"0.0000001");
        assert_eq!(Plain::Float(1.5e10).mac_bytes(), b"15000000000");
        assert_eq!(Plain::Bool(false).mac_bytes(), b"False");
        assert_eq!(Plain::Int(-3).mac_bytes(), b"-3");
    }

    #[test]
    fn empty_value_is_empty_string() {
        assert!(decrypt("", &test_key(), "x:") == Ok(Plain::Text(ValueType::Str, Vec::new())));
    }

    #[test]
    fn malformed_values_are_errors_not_panics() {
        let key = test_key();
        for value in [
            "ENC[",
            "ENC[AES256_GCM,data:,iv:,tag:,type:]",
            "ENC[AES256_GCM,data:!!,iv:AAAA,tag:AAAA,type:str]",
            "ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]",
            "ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAA,type:str]",
            "ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAA,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:nope]",
            "ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAA,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]",
            "plain text",
        ] {
            assert!(decrypt(value, &key, "a:").is_err(), "{value}");
        }
    }
}
