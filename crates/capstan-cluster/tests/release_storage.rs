//! Helm release storage against what the real helm 4.1.4 wrote (`tests/data/helm/release.json`,
//! see its README): the JSON encodes back byte for byte, the Secret carries Helm's name, type and
//! labels, and the lifecycle follows Helm's status transitions and history limit.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use capstan_cluster::release::history::{self, HistoryError};
use capstan_cluster::release::storage::{
    self, SecretWrite, decode_release, encode_release, go_json, release_from_secret, release_secret,
};
use capstan_cluster::release::{NewRelease, Release, Status};
use capstan_core::{Map, Value};

fn helm_json() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/helm/release.json");
    let text = std::fs::read_to_string(path).expect("release.json reads");
    // `-o json` ends with the encoder's newline; storage holds json.Marshal's bytes.
    text.trim_end_matches('\n').to_owned()
}

fn helm_release() -> Release {
    let value: Value = serde_json::from_str(&helm_json()).expect("helm's JSON parses");
    Release::from_json(value).expect("a release")
}

#[test]
fn helm_json_encodes_back_byte_for_byte() {
    let json = helm_json();
    let release = helm_release();
    assert_eq!(go_json(release.json()), json);
    assert!(
        json.contains("\\u003cworld\\u003e \\u0026"),
        "Go's HTML-safe escaping"
    );
    assert_eq!(release.name(), "web");
    assert_eq!(release.namespace(), "apps");
    assert_eq!(release.version(), 1);
    assert_eq!(release.status(), Status::PendingInstall);
    assert_eq!(release.chart(), ("demo", "0.1.0"));
    assert_eq!(
        release.config().get("extra"),
        Some(&Value::String("a<b>&c".into()))
    );
}

#[test]
fn data_release_is_base64_of_gzip_of_the_json() {
    let release = helm_release();
    let data = encode_release(&release);
    let bytes = B64.decode(&data).expect("base64");
    assert_eq!(&bytes[..3], &[0x1f, 0x8b, 0x08], "gzip magic");
    let mut json = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(bytes.as_slice()),
        &mut json,
    )
    .expect("gunzip");
    assert_eq!(json, helm_json());
    let back = decode_release(&data, "s").expect("decodes");
    assert_eq!(back, release);
    // Helm also reads data written without gzip.
    let plain = B64.encode(helm_json());
    assert_eq!(decode_release(&plain, "s").expect("plain JSON"), release);
}

#[test]
fn the_secret_is_named_typed_and_labelled_as_helm_does() {
    let mut release = helm_release();
    release.set_status(Status::Deployed, Some("Install complete"));
    let mut custom = Map::new();
    custom.insert("team".into(), "platform".into());
    custom.insert("owner".into(), "someone-else".into());
    let secret = release_secret(
        &release,
        &custom,
        SecretWrite::Create {
            unix_seconds: 1764870000,
        },
    );
    assert_eq!(secret["metadata"]["name"], "sh.helm.release.v1.web.v1");
    assert_eq!(secret["metadata"]["namespace"], "apps");
    assert_eq!(secret["type"], "helm.sh/release.v1");
    let labels = &secret["metadata"]["labels"];
    assert_eq!(labels["name"], "web");
    assert_eq!(
        labels["owner"], "helm",
        "Helm's labels override custom ones"
    );
    assert_eq!(labels["status"], "deployed");
    assert_eq!(labels["version"], "1");
    assert_eq!(labels["createdAt"], "1764870000");
    assert_eq!(labels["team"], "platform");
    // On the wire the API base64-encodes the data once more.
    let wire = secret["data"]["release"].as_str().expect("data.release");
    let inner = String::from_utf8(B64.decode(wire).expect("wire base64")).expect("text");
    assert!(
        B64.decode(&inner)
            .expect("helm's base64")
            .starts_with(&[0x1f, 0x8b])
    );
    let back = release_from_secret(&secret).expect("reads back");
    assert_eq!(back.status(), Status::Deployed);
    assert_eq!(back.json(), release.json());
    let update = release_secret(
        &release,
        &Map::new(),
        SecretWrite::Update { unix_seconds: 5 },
    );
    assert_eq!(update["metadata"]["labels"]["modifiedAt"], "5");
    assert!(update["metadata"]["labels"].get("createdAt").is_none());
}

#[test]
fn bad_storage_is_an_error_naming_the_secret() {
    let errors = [
        decode_release("%%%", "sh.helm.release.v1.x.v1").map(|_| ()),
        decode_release(
            &B64.encode([0x1f, 0x8b, 0x08, 0, 1]),
            "sh.helm.release.v1.x.v1",
        )
        .map(|_| ()),
        decode_release(&B64.encode("{\"name\":\"x\"}"), "sh.helm.release.v1.x.v1").map(|_| ()),
        release_from_secret(&serde_json::json!({"metadata": {"name": "sh.helm.release.v1.x.v1"}}))
            .map(|_| ()),
    ];
    for error in errors {
        let message = error.expect_err("must fail").to_string();
        assert!(
            message.starts_with("sh.helm.release.v1.x.v1: "),
            "{message}"
        );
    }
}

fn release(version: i64, status: Status) -> Release {
    Release::new(NewRelease {
        name: "web",
        namespace: "apps",
        version,
        chart: serde_json::json!({"metadata": {"name": "demo", "version": "0.1.0"}}),
        config: Map::new(),
        manifest: "",
        hooks: Vec::new(),
        notes: "",
        description: "",
        status,
        first_deployed: "2026-12-04T10:00:00Z",
        last_deployed: "2026-12-04T10:00:00Z",
    })
}

#[test]
fn a_new_release_has_helms_field_order() {
    let json = go_json(release(2, Status::PendingUpgrade).json());
    assert_eq!(
        json,
        r#"{"name":"web","info":{"first_deployed":"2026-12-04T10:00:00Z","last_deployed":"2026-12-04T10:00:00Z","status":"pending-upgrade"},"chart":{"metadata":{"name":"demo","version":"0.1.0"}},"version":2,"namespace":"apps","apply_method":"ssa"}"#
    );
    assert_eq!(storage::secret_name("web", 2), "sh.helm.release.v1.web.v2");
}

#[test]
fn lifecycle_follows_helm() {
    // Install: v1.
    let next = history::next("web", &[], 5).expect("install");
    assert_eq!((next.version, next.supersedes), (1, None));
    // Upgrade over a deployed v1: v2 supersedes v1.
    let h = vec![release(1, Status::Deployed)];
    let next = history::next("web", &h, 5).expect("upgrade");
    assert_eq!((next.version, next.supersedes), (2, Some(1)));
    // A pending latest release locks the name.
    let h = vec![
        release(1, Status::Deployed),
        release(2, Status::PendingUpgrade),
    ];
    assert!(matches!(
        history::next("web", &h, 5),
        Err(HistoryError::Locked { .. })
    ));
    // Rollback to v1 writes v3 from v1.
    let h = vec![release(1, Status::Superseded), release(2, Status::Deployed)];
    let (next, from) = history::rollback("web", &h, 0, 5).expect("rollback");
    assert_eq!((next.version, from.version()), (3, 1));
    assert!(history::rollback("web", &h, 7, 5).is_err());
}

#[test]
fn history_limit_keeps_max_after_create_and_never_the_deployed() {
    let h: Vec<Release> = (1..=6)
        .map(|v| {
            release(
                v,
                if v == 2 {
                    Status::Deployed
                } else {
                    Status::Superseded
                },
            )
        })
        .collect();
    // maxHistory 5: make room for one more, so 4 remain: delete the oldest two but v2.
    assert_eq!(history::to_delete(&h, 5), [1, 3]);
    assert_eq!(history::to_delete(&h, 0), Vec::<i64>::new());
    assert_eq!(history::to_delete(&h[..3], 5), Vec::<i64>::new());
}
