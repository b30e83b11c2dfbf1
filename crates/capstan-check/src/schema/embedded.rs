//! The schema tables compiled into the binary (`schemas/*.json.gz`, written by
//! `scripts/gen-schemas.py`), decompressed and parsed once per process.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::OnceLock;

use capstan_core::Value;

const KUBERNETES: &[u8] = include_bytes!("../../schemas/kubernetes.json.gz");
const FLUX: &[u8] = include_bytes!("../../schemas/flux.json.gz");

/// The compact Kubernetes table: distinct nodes by content key, and per version the definition
/// names (→ node key) and kinds (`group/version/Kind` → definition name).
#[derive(Debug, serde::Deserialize)]
pub struct KubernetesTable {
    pub nodes: BTreeMap<String, Value>,
    pub versions: BTreeMap<String, VersionTable>,
}

#[derive(Debug, serde::Deserialize)]
pub struct VersionTable {
    pub defs: BTreeMap<String, String>,
    pub kinds: BTreeMap<String, String>,
}

/// One Flux CRD: its kind and, per served version, the `openAPIV3Schema` without descriptions.
#[derive(Debug, serde::Deserialize)]
pub struct FluxCrd {
    pub group: String,
    pub kind: String,
    pub versions: BTreeMap<String, Value>,
}

fn gunzip<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut text)
        .map_err(|e| e.to_string())?;
    serde_json::from_slice(&text).map_err(|e| e.to_string())
}

pub fn kubernetes() -> Result<&'static KubernetesTable, String> {
    static TABLE: OnceLock<Result<KubernetesTable, String>> = OnceLock::new();
    TABLE
        .get_or_init(|| gunzip(KUBERNETES))
        .as_ref()
        .map_err(Clone::clone)
}

pub fn flux() -> Result<&'static [FluxCrd], String> {
    static TABLE: OnceLock<Result<Vec<FluxCrd>, String>> = OnceLock::new();
    TABLE
        .get_or_init(|| gunzip(FLUX))
        .as_ref()
        .map(Vec::as_slice)
        .map_err(Clone::clone)
}
