//! SOPS decryption for Flux builds: age master keys, AES-256-GCM values, the MAC verified.
//!
//! kustomize-controller decrypts after kustomize has built a Kustomization: every object that
//! carries `sops.mac` is decrypted whole, and a Secret whose `data` entries are themselves SOPS
//! files (secretGenerator sources) has those entries decrypted in place. Before building it also
//! decrypts the secretGenerator source files on disk. capstan does the same with its own
//! implementation of the SOPS file format (no sops library), using the `age` crate for the
//! data key.
//!
//! The API, for `capstan build`:
//! - [`Keys::from_process_env_and_file`] (or [`Keys::from_env_and_file`]) loads age identities
//!   from `--sops-age-key-file`, `SOPS_AGE_KEY_FILE` and `SOPS_AGE_KEY`.
//! - [`decrypt_resource`] applies kustomize-controller's `DecryptResource` to one built object:
//!   `Ok(None)` when there is nothing to decrypt (or the object opts out with
//!   `kustomize.toolkit.fluxcd.io/decrypt: Disabled`), `Ok(Some(decrypted))` otherwise.
//! - [`is_encrypted`], [`decrypt_document`]: the whole-object case alone.
//! - [`mask_resource`]: without keys, an encrypted object with its encrypted values replaced by
//!   [`MASK`] and the annotation [`NOT_DECRYPTED_ANNOTATION`] added.
//! - [`decrypt_source`] with [`Format::for_file_source`] / [`Format::for_env_source`] /
//!   [`Format::for_path`]: kustomize-controller's `DecryptSources` for one secretGenerator
//!   source or patch file, before the kustomize build (`Ok(None)` when it is not encrypted).
//! - [`decrypt_file`]: any SOPS file (YAML, JSON, dotenv, binary, INI) decrypted to the bytes
//!   `sops --decrypt` writes.
//!
//! Errors name the file or object (`origin`, supplied by the caller) and the field path; a
//! changed value or MAC is [`SopsError::MacMismatch`]. No error, log line or `Debug` output
//! contains key material or decrypted values.

mod cipher;
mod document;
mod file;
mod ini;
mod keys;
mod metadata;
mod shamir;
mod tree;
mod yaml_comments;
mod yaml_emit;

pub use document::{
    MASK, NOT_DECRYPTED, NOT_DECRYPTED_ANNOTATION, decrypt_document, decrypt_documents,
    decrypt_resource, is_decryption_disabled, is_encrypted, mask_resource,
};
pub use file::{Format, decrypt_file, decrypt_source};
pub use keys::{KeyError, Keys, SOPS_AGE_KEY, SOPS_AGE_KEY_FILE};

/// Why a SOPS document could not be decrypted. Never carries key material or plaintext.
#[derive(Debug, thiserror::Error)]
pub enum SopsError {
    /// The document has no `sops` metadata.
    #[error("{origin}: sops metadata not found")]
    NoMetadata {
        /// The file or object.
        origin: String,
    },
    /// The `sops` metadata is malformed.
    #[error("{origin}: field {field}: {reason}")]
    Metadata {
        /// The file or object.
        origin: String,
        /// The metadata field, e.g. `sops.lastmodified`.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The file cannot be decrypted with any kind of key capstan supports.
    #[error("{origin}: cannot decrypt: {reason}")]
    NoUsableKey {
        /// The file or object.
        origin: String,
        /// Why.
        reason: String,
    },
    /// No age identity was given.
    #[error(
        "{origin}: no age identity to decrypt with (set --sops-age-key-file, SOPS_AGE_KEY_FILE or SOPS_AGE_KEY); \
         the file is encrypted for {recipients}"
    )]
    NoKeys {
        /// The file or object.
        origin: String,
        /// The file's age recipients (public keys).
        recipients: String,
    },
    /// None of the identities opens the data key.
    #[error(
        "{origin}: none of the {identities} age identities can decrypt the data key ({reason}); the file is encrypted for {recipients}"
    )]
    NoMatchingKey {
        /// The file or object.
        origin: String,
        /// The file's age recipients (public keys).
        recipients: String,
        /// How many identities were tried.
        identities: usize,
        /// The last failure.
        reason: String,
    },
    /// One value could not be decrypted.
    #[error("{origin}: field {field}: cannot decrypt: {reason}")]
    Value {
        /// The file or object.
        origin: String,
        /// The field path, e.g. `stringData.password`.
        field: String,
        /// Why (never the value).
        reason: String,
    },
    /// The computed MAC differs from the stored one: the file was tampered with.
    #[error("MAC mismatch in {origin}: {reason}")]
    MacMismatch {
        /// The file or object.
        origin: String,
        /// What the mismatch means.
        reason: String,
    },
    /// The file is not a well-formed document of its format.
    #[error("{origin}: {reason}")]
    Format {
        /// The file or object.
        origin: String,
        /// What is wrong.
        reason: String,
    },
}
