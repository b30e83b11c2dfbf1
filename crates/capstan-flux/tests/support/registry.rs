//! A real OCI registry for tests: Debian's `docker-registry` (distribution 2.x) started on
//! 127.0.0.1 with a free port and filesystem storage in a temporary directory, charts written
//! by the test, packaged and pushed with the oracle `helm`. The registry is killed when the
//! [`Registry`] guard drops. Without `docker-registry` or `helm` the tests skip with a message,
//! unless `CAPSTAN_REQUIRE_REGISTRY=1`, where their absence fails the test (CI sets it).
//!
//! Shared by capstan-flux's and capstan's registry tests (`#[path]`-included).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

/// Status, lowercased headers, body.
pub type HttpResponse = (u16, Vec<(String, String)>, Vec<u8>);

/// A running registry; killed on drop.
pub struct Registry {
    child: Child,
    pub port: u16,
    /// `127.0.0.1:PORT`.
    pub host: String,
    pub dir: tempfile::TempDir,
    pub helm: PathBuf,
}

fn required() -> bool {
    std::env::var("CAPSTAN_REQUIRE_REGISTRY").is_ok_and(|v| v == "1")
}

fn skip(what: &str) -> Option<Registry> {
    if required() {
        panic!("CAPSTAN_REQUIRE_REGISTRY=1 but {what}");
    }
    eprintln!("skipping registry test: {what}");
    None
}

/// The oracle helm.
pub fn find_helm() -> Option<PathBuf> {
    capstan_testkit::oracle("helm")
}

fn find_registry() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.push("/usr/bin".into());
    dirs.into_iter()
        .map(|d| d.join("docker-registry"))
        .find(|p| p.is_file())
}

impl Registry {
    /// Starts an anonymous registry, or `None` (after printing why) when the tools are missing.
    pub fn start() -> Option<Registry> {
        Self::start_with(None)
    }

    /// Starts a registry requiring basic authentication for `(user, bcrypt hash)`.
    pub fn start_with_user(user: &str, bcrypt: &str) -> Option<Registry> {
        Self::start_with(Some((user, bcrypt)))
    }

    fn start_with(user: Option<(&str, &str)>) -> Option<Registry> {
        let Some(binary) = find_registry() else {
            return skip("docker-registry is not installed (apt-get install docker-registry)");
        };
        let Some(helm) = find_helm() else {
            return skip("helm is not installed (../shared/tools/install-oracles.sh)");
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let config = dir.path().join("config.yml");
        let mut text = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some((user, hash)) = user {
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{user}:{hash}\n")).expect("htpasswd");
            text.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: capstan-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        std::fs::write(&config, text).expect("registry config");
        let child = Command::new(&binary)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry starts");
        let registry = Registry {
            child,
            port,
            host: format!("127.0.0.1:{port}"),
            dir,
            helm,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok((200 | 401, _, _)) = registry.request("GET", "/v2/", &[], b"") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not answer GET /v2/ in 20s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(registry)
    }

    /// Writes a chart `name` at `version` (a ConfigMap template showing a value) and pushes it to
    /// `oci://HOST/<path>` with `helm push`; returns the manifest digest helm printed.
    pub fn push_chart(&self, path: &str, name: &str, version: &str) -> String {
        self.push_chart_as(path, name, version, None)
    }

    /// [`Registry::push_chart`] with `--username`/`--password`.
    pub fn push_chart_as(
        &self,
        path: &str,
        name: &str,
        version: &str,
        login: Option<(&str, &str)>,
    ) -> String {
        let work = self.dir.path().join("work");
        let chart = work.join(format!("{name}-{version}")).join(name);
        std::fs::create_dir_all(chart.join("templates")).expect("chart dir");
        std::fs::write(
            chart.join("Chart.yaml"),
            format!("apiVersion: v2\nname: {name}\nversion: {version}\ndescription: test chart\n"),
        )
        .expect("Chart.yaml");
        std::fs::write(
            chart.join("values.yaml"),
            format!("greeting: hello from {version}\n"),
        )
        .expect("values.yaml");
        std::fs::write(
            chart.join("templates/configmap.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-{{ .Chart.Name }}\ndata:\n  greeting: {{ .Values.greeting | quote }}\n  version: {{ .Chart.Version | quote }}\n",
        )
        .expect("template");
        let out = work.join("packages");
        std::fs::create_dir_all(&out).expect("packages dir");
        self.helm(&[
            "package",
            chart.to_str().expect("utf-8"),
            "-d",
            out.to_str().expect("utf-8"),
        ]);
        let tgz = out.join(format!("{name}-{version}.tgz"));
        let target = format!("oci://{}/{path}", self.host);
        let mut args = vec![
            "push",
            tgz.to_str().expect("utf-8"),
            &target,
            "--plain-http",
        ];
        if let Some((user, password)) = login {
            args.extend(["--username", user, "--password", password]);
        }
        let output = self.helm(&args);
        output
            .lines()
            .find_map(|l| l.strip_prefix("Digest: "))
            .map(|d| d.trim().to_owned())
            .unwrap_or_else(|| panic!("helm push printed no digest: {output}"))
    }

    /// The registry config `helm registry login` writes for this registry's tests.
    pub fn helm_registry_config(&self) -> PathBuf {
        self.dir.path().join("helm/registry.json")
    }

    /// Runs helm with its state confined to the registry's temp dir; stdout + stderr.
    pub fn helm(&self, args: &[&str]) -> String {
        let home = self.dir.path().join("helm");
        let output = Command::new(&self.helm)
            .args(args)
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .env("HELM_REGISTRY_CONFIG", self.helm_registry_config())
            .output()
            .expect("helm runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "helm {args:?} failed: {text}");
        text
    }

    /// Where the registry stores the blob `digest`.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// Uploads `bytes` as a blob of `repo` (monolithic upload); returns its digest.
    pub fn upload_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = format!("sha256:{:x}", Sha256::digest(bytes));
        let (status, headers, _) = self
            .request("POST", &format!("/v2/{repo}/blobs/uploads/"), &[], b"")
            .expect("upload start");
        assert_eq!(status, 202, "blob upload start");
        let location = header(&headers, "location").expect("upload location");
        let path = location
            .strip_prefix(&format!("http://{}", self.host))
            .unwrap_or(&location)
            .to_owned();
        let sep = if path.contains('?') { '&' } else { '?' };
        let (status, _, body) = self
            .request(
                "PUT",
                &format!("{path}{sep}digest={digest}"),
                &[("Content-Type", "application/octet-stream")],
                bytes,
            )
            .expect("upload");
        assert_eq!(
            status,
            201,
            "blob upload: {}",
            String::from_utf8_lossy(&body)
        );
        digest
    }

    /// Pushes an OCI manifest with `layers` (media type, bytes) under `tag`; returns its digest.
    pub fn push_artifact(&self, repo: &str, tag: &str, layers: &[(&str, &[u8])]) -> String {
        let config = self.upload_blob(repo, b"{}");
        let layers: Vec<String> = layers
            .iter()
            .map(|(media, bytes)| {
                let digest = self.upload_blob(repo, bytes);
                format!(
                    r#"{{"mediaType":"{media}","digest":"{digest}","size":{}}}"#,
                    bytes.len()
                )
            })
            .collect();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":"{config}","size":2}},"layers":[{}]}}"#,
            layers.join(",")
        );
        let (status, _, body) = self
            .request(
                "PUT",
                &format!("/v2/{repo}/manifests/{tag}"),
                &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
                manifest.as_bytes(),
            )
            .expect("manifest push");
        assert_eq!(
            status,
            201,
            "manifest push: {}",
            String::from_utf8_lossy(&body)
        );
        format!("sha256:{:x}", Sha256::digest(manifest.as_bytes()))
    }

    /// One HTTP/1.1 request to the registry: status, headers, body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<HttpResponse> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.host,
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| std::io::Error::other("no header end"))?;
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other("no status"))?;
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Ok((status, headers, raw[split + 4..].to_vec()))
    }
}

fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
