//! SOPS decryption of built objects, as kustomize-controller's `DecryptResource` does it, and
//! masking for builds that have no key.

use base64::Engine as _;

use super::file::{self, Format};
use super::keys::Keys;
use super::metadata::Metadata;
use super::tree::TreeDecryptor;
use super::{SopsError, cipher};
use capstan_core::Value;

/// The annotation capstan adds to an encrypted object it could not decrypt (no key given).
pub const NOT_DECRYPTED_ANNOTATION: &str = "capstan.io/sops";
/// The value of [`NOT_DECRYPTED_ANNOTATION`].
pub const NOT_DECRYPTED: &str = "not-decrypted";
/// What an encrypted string value becomes in a masked object. A plain YAML scalar that reads
/// back as this same string wherever post-build substitution writes it (a variable taken from a
/// masked Secret): no indicator (`*` would read as an alias, `&` an anchor, `!` a tag), no `: `
/// or ` #`, and not a boolean, number or null in YAML 1.1 or 1.2.
pub const MASK: &str = "SOPS-ENCRYPTED";

const DECRYPT_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/decrypt";

/// True when the object carries SOPS metadata with a MAC (kustomize-controller's test).
pub fn is_encrypted(object: &Value) -> bool {
    match object.get("sops").and_then(|sops| sops.get("mac")) {
        None | Some(Value::Null) => false,
        Some(Value::String(mac)) => !mac.is_empty(),
        Some(Value::Object(m)) => !m.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }
}

/// True when the object opts out with `kustomize.toolkit.fluxcd.io/decrypt: Disabled` (any case).
pub fn is_decryption_disabled(object: &Value) -> bool {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(DECRYPT_ANNOTATION))
        .and_then(Value::as_str)
        .is_some_and(|v| v.eq_ignore_ascii_case("disabled"))
}

/// Decrypts one SOPS document (an object carrying `sops` metadata) and returns it without the
/// metadata. The MAC is verified; a changed value is [`SopsError::MacMismatch`].
pub fn decrypt_document(object: &Value, keys: &Keys, origin: &str) -> Result<Value, SopsError> {
    let mut docs = decrypt_documents(std::slice::from_ref(object), keys, origin)?;
    Ok(docs.pop().unwrap_or(Value::Null))
}

/// Decrypts the documents of one multi-document SOPS YAML file: the metadata is the first
/// document's, the MAC covers every document in order.
pub fn decrypt_documents(
    documents: &[Value],
    keys: &Keys,
    origin: &str,
) -> Result<Vec<Value>, SopsError> {
    let sops = documents
        .first()
        .and_then(|doc| doc.get("sops"))
        .ok_or_else(|| SopsError::NoMetadata {
            origin: origin.to_string(),
        })?;
    let metadata = Metadata::parse(sops, origin)?;
    let key = metadata.data_key(keys, origin)?;
    let mut decryptor = TreeDecryptor::new(&metadata, &key, origin);
    let mut out = documents.to_vec();
    for doc in &mut out {
        decryptor.walk_document(doc)?;
        if let Value::Object(map) = doc {
            map.shift_remove("sops");
        }
    }
    decryptor.verify()?;
    Ok(out)
}

/// kustomize-controller's `DecryptResource` for one built object:
/// - opted out with `kustomize.toolkit.fluxcd.io/decrypt: Disabled` → `Ok(None)`;
/// - carries `sops.mac` → the whole object decrypted;
/// - a Secret whose `data` entries are base64 SOPS files (a secretGenerator fed encrypted
///   files) → each such entry decrypted, re-emitted in the format its key's extension names;
/// - anything else → `Ok(None)`.
pub fn decrypt_resource(
    object: &Value,
    keys: &Keys,
    origin: &str,
) -> Result<Option<Value>, SopsError> {
    if is_decryption_disabled(object) {
        return Ok(None);
    }
    if is_encrypted(object) {
        return decrypt_document(object, keys, origin).map(Some);
    }
    if object.get("kind").and_then(Value::as_str) != Some("Secret") {
        return Ok(None);
    }
    let Some(Value::Object(data)) = object.get("data") else {
        return Ok(None);
    };
    let mut decrypted = data.clone();
    let mut changed = false;
    for (key, value) in data {
        let Some(encoded) = value.as_str() else {
            continue;
        };
        // Not base64: left for the build to report, as kustomize-controller does.
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
            continue;
        };
        let Some(input) = Format::detect(&bytes) else {
            continue;
        };
        let output = Format::for_secret_key(key);
        let entry_origin = format!("{origin}: data.{key}");
        let plain = file::decrypt_file_as(&bytes, input, output, keys, &entry_origin)?;
        decrypted.insert(
            key.clone(),
            Value::String(base64::engine::general_purpose::STANDARD.encode(plain)),
        );
        changed = true;
    }
    if !changed {
        return Ok(None);
    }
    let mut out = object.clone();
    out["data"] = Value::Object(decrypted);
    Ok(Some(out))
}

/// An encrypted object as a build without keys shows it: the `sops` metadata removed, each
/// encrypted string replaced by [`MASK`] (base64 of it under a Secret's `data`), encrypted
/// numbers and booleans by `0` and `false`, and the annotation
/// [`NOT_DECRYPTED_ANNOTATION`]` = not-decrypted` added. A Secret whose `data` entries are
/// SOPS files (a secretGenerator fed encrypted files) gets those entries masked and the same
/// annotation. Other objects, and objects opting out with
/// `kustomize.toolkit.fluxcd.io/decrypt: Disabled`, come back unchanged.
pub fn mask_resource(object: &Value) -> Value {
    if is_decryption_disabled(object) {
        return object.clone();
    }
    let mut out = object.clone();
    let is_secret = object.get("kind").and_then(Value::as_str) == Some("Secret");
    let Value::Object(map) = &mut out else {
        return out;
    };
    if is_encrypted(object) {
        map.shift_remove("sops");
        for (key, value) in map.iter_mut() {
            let base64_values = is_secret && key == "data";
            mask_value(value, base64_values);
        }
    } else if !(is_secret && mask_encrypted_entries(map)) {
        return out;
    }
    let metadata = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Value::Object(metadata) = metadata {
        let annotations = metadata
            .entry("annotations")
            .or_insert_with(|| Value::Object(Default::default()));
        if !annotations.is_object() {
            *annotations = Value::Object(Default::default());
        }
        if let Value::Object(annotations) = annotations {
            annotations.insert(
                NOT_DECRYPTED_ANNOTATION.to_string(),
                Value::String(NOT_DECRYPTED.to_string()),
            );
        }
    }
    out
}

/// Masks the `data` entries of a Secret that hold base64 SOPS files; true when any did.
fn mask_encrypted_entries(secret: &mut capstan_core::Map) -> bool {
    let engine = base64::engine::general_purpose::STANDARD;
    let Some(Value::Object(data)) = secret.get_mut("data") else {
        return false;
    };
    let mut masked = false;
    for value in data.values_mut() {
        let encrypted = value
            .as_str()
            .and_then(|encoded| engine.decode(encoded).ok())
            .is_some_and(|bytes| Format::detect(&bytes).is_some());
        if encrypted {
            *value = Value::String(engine.encode(MASK));
            masked = true;
        }
    }
    masked
}

fn mask_value(value: &mut Value, base64_values: bool) {
    match value {
        Value::Object(map) => map.values_mut().for_each(|v| mask_value(v, base64_values)),
        Value::Array(items) => items.iter_mut().for_each(|v| mask_value(v, base64_values)),
        Value::String(text) if cipher::is_encrypted_value(text) => {
            *value = match text
                .rsplit_once(",type:")
                .map(|(_, t)| t.trim_end_matches(']'))
            {
                Some("int" | "float") => Value::from(0),
                Some("bool") => Value::Bool(false),
                _ if base64_values => {
                    Value::String(base64::engine::general_purpose::STANDARD.encode(MASK))
                }
                _ => Value::String(MASK.to_string()),
            };
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_encrypted_objects_like_kustomize_controller() {
        assert!(is_encrypted(
            &serde_json::json!({"sops": {"mac": "ENC[x]"}})
        ));
        assert!(!is_encrypted(&serde_json::json!({"sops": {"mac": ""}})));
        assert!(!is_encrypted(&serde_json::json!({"sops": {}})));
        assert!(!is_encrypted(&serde_json::json!({"kind": "Secret"})));
    }

    #[test]
    fn opt_out_annotation_is_case_insensitive() {
        let object = serde_json::json!({"metadata": {"annotations": {DECRYPT_ANNOTATION: "disabled"}}, "sops": {"mac": "x"}});
        assert!(is_decryption_disabled(&object));
        assert_eq!(
            decrypt_resource(&object, &Keys::none(), "x").expect("no error"),
            None
        );
    }

    #[test]
    fn masks_encrypted_values_and_marks_the_object() {
        let object = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s"},
            "data": {"a": "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]"},
            "stringData": {"b": "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]", "c": "", "n": "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:int]"},
            "sops": {"mac": "ENC[x]"},
        });
        let masked = mask_resource(&object);
        assert_eq!(
            masked["data"]["a"],
            base64::engine::general_purpose::STANDARD.encode(MASK)
        );
        assert_eq!(masked["stringData"]["b"], MASK);
        assert_eq!(masked["stringData"]["c"], "");
        assert_eq!(masked["stringData"]["n"], 0);
        assert_eq!(
            masked["metadata"]["annotations"][NOT_DECRYPTED_ANNOTATION],
            NOT_DECRYPTED
        );
        assert!(masked.get("sops").is_none());
    }

    /// The mask, substituted as a variable's value (as a masked Secret named by
    /// `substituteFrom` provides it) wherever a `${VAR}` can stand, reads back as itself: the
    /// document parses the same way it would with the real value.
    #[test]
    fn the_mask_substituted_anywhere_reads_back_as_itself() {
        use crate::substitute::{Strategy, SubstituteOptions, substitute_object};
        assert!(!capstan_core::yaml::resolves_to_non_string(MASK));
        let object = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {"plain": "${V}", "inside": "user:${V}@host", "quoted": "'${V}'"},
            "list": ["${V}", "${V} and more"],
            "nested": {"${V}": "key"},
        });
        let vars = [("V".to_owned(), MASK.to_owned())].into_iter().collect();
        let out = substitute_object(
            &object,
            &vars,
            Strategy::WithVariables,
            SubstituteOptions::default(),
        )
        .expect("the mask never breaks the document")
        .expect("substituted");
        assert_eq!(out["data"]["plain"], MASK);
        assert_eq!(out["data"]["inside"], format!("user:{MASK}@host"));
        assert_eq!(out["data"]["quoted"], format!("'{MASK}'"));
        assert_eq!(
            out["list"],
            serde_json::json!([MASK, format!("{MASK} and more")])
        );
        assert_eq!(out["nested"][MASK], "key");
        // and as the text of a whole document, every way the emitter writes it
        let text = capstan_core::yaml::to_yaml(&serde_json::json!({"a": MASK, "b": [MASK]}));
        assert!(
            text.contains(&format!("a: {MASK}\n")),
            "written plain: {text}"
        );
        let back = capstan_core::yaml::parse_document_go_yaml_v2(&text).expect("parses");
        assert_eq!(back, serde_json::json!({"a": MASK, "b": [MASK]}));
    }
}
