//! Stand-ins for what `capstan bootstrap apply` drives, shared by the library and CLI tests:
//! fake `talosctl`, `talhelper` and `op` scripts, and small charts packaged as the chart cache
//! keeps them.
//!
//! The fake `talosctl` answers in maintenance mode until a node took its config, bootstraps etcd
//! once (then says `AlreadyExists`, as the real one does), and "fetches" the kubeconfig by
//! copying the file the test names; every call is logged to `<state>/calls`. The fake `op`
//! answers every reference with a value starting [`OP_VALUE_MARK`], so a test can grep output,
//! journal and ConfigMap for it.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Every value the fake `op` prints starts with this.
pub const OP_VALUE_MARK: &str = "opvalue-Zq9x-";

fn script(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write script");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
}

/// Writes `talosctl`, `talhelper` and `op` into `<dir>/bin` (returned); the fake talosctl keeps
/// its state in `<dir>/talos-state` and copies `kubeconfig` when asked for one.
pub fn fake_tools(dir: &Path, kubeconfig: &Path) -> PathBuf {
    let bin = dir.join("bin");
    let state = dir.join("talos-state");
    std::fs::create_dir_all(&bin).expect("bin");
    std::fs::create_dir_all(&state).expect("state");
    script(
        &bin.join("talosctl"),
        &format!(
            r#"#!/bin/sh
state='{state}'
echo "$*" >> "$state/calls"
cmd=""; node=""; prev=""; last=""
for a in "$@"; do
  case "$prev" in --nodes) node="$a";; esac
  case "$a" in version|apply-config|bootstrap|kubeconfig|health) [ -z "$cmd" ] && cmd="$a";; esac
  prev="$a"; last="$a"
done
case "$cmd" in
  version) [ -f "$state/configured-$node" ] && exit 1; exit 0;;
  apply-config) touch "$state/configured-$node"; exit 0;;
  bootstrap)
    if [ -f "$state/bootstrapped" ]; then
      echo "rpc error: code = AlreadyExists desc = etcd data directory is not empty" >&2; exit 1
    fi
    touch "$state/bootstrapped"; exit 0;;
  kubeconfig) cp '{kubeconfig}' "$last"; exit 0;;
  health) exit 0;;
esac
echo "fake talosctl: unexpected: $*" >&2; exit 2
"#,
            state = state.display(),
            kubeconfig = kubeconfig.display()
        ),
    );
    script(
        &bin.join("talhelper"),
        r#"#!/bin/sh
config=""; out=""; prev=""
for a in "$@"; do
  case "$prev" in --config-file) config="$a";; --out-dir) out="$a";; esac
  prev="$a"
done
mkdir -p "$out"
cluster=$(sed -n 's/^clusterName: *//p' "$config")
for host in $(sed -n 's/^ *- hostname: *//p' "$config"); do
  printf 'version: v1alpha1\nmachine:\n  type: controlplane\n' > "$out/$cluster-$host.yaml"
done
"#,
    );
    script(
        &bin.join("op"),
        &format!(
            r#"#!/bin/sh
# op read --no-newline REFERENCE
ref="$3"
printf '{OP_VALUE_MARK}%s' "$(printf '%s' "$ref" | tr -c 'a-z0-9' '-')"
"#
        ),
    );
    bin
}

/// A chart packaged as `helm package` would: `<name>/Chart.yaml` and a template with a
/// Deployment named after the release and a ConfigMap holding the values' JSON.
pub fn chart_archive(name: &str, version: &str) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, text) in &chart_files(name, version) {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, path, text.as_bytes())
            .expect("tar entry");
    }
    let bytes = tar.into_inner().expect("tar");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).expect("gzip");
    gz.finish().expect("gzip")
}

/// The same chart unpacked under `dir` (as `<dir>/<name>/…`), for a chart kept in a repository.
pub fn write_chart(dir: &Path, name: &str, version: &str) {
    for (path, text) in chart_files(name, version) {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
}

fn chart_files(name: &str, version: &str) -> [(String, String); 3] {
    [
        (
            format!("{name}/Chart.yaml"),
            format!(
                "apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: \"{version}\"\n"
            ),
        ),
        (format!("{name}/values.yaml"), "replicas: 1\n".to_owned()),
        (
            format!("{name}/templates/workload.yaml"),
            r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-values
  namespace: {{ .Release.Namespace }}
data:
  values.json: {{ toJson .Values | quote }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      app: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app: {{ .Release.Name }}
    spec:
      containers:
        - name: main
          image: registry.k8s.io/pause:3.10
"#
            .to_owned(),
        ),
    ]
}
