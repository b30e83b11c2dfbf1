//! Registry credentials and challenges. Credentials come, in order, from the source's
//! `spec.secretRef` Secret when the repository renders it in plain form (a
//! `kubernetes.io/dockerconfigjson` Secret or `username`/`password` keys, as source-controller
//! reads them), else from the files `helm registry login` and `docker login` write
//! (`$HELM_REGISTRY_CONFIG`, `$HELM_CONFIG_HOME`/`$XDG_CONFIG_HOME`/`~/.config/helm/registry/config.json`,
//! then `$DOCKER_CONFIG/config.json`, `~/.docker/config.json`), their `auths` entries only
//! (credential helpers and stores are not run). `WWW-Authenticate` challenges are parsed here
//! for the client's anonymous-first token flow.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use capstan_core::{Fs, Value};

use super::OciError;

/// A user name and password (or token) for one registry. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// Where they came from, for error messages (`secret flux-system/ghcr`, a file path).
    pub origin: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("origin", &self.origin)
            .finish()
    }
}

impl Credentials {
    /// The `Authorization: Basic …` value.
    pub fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    /// Credentials for `registry` from a Secret object as the repository renders it
    /// (`data` base64-encoded or `stringData`). `Ok(None)` when the Secret holds none for it.
    pub fn from_secret(secret: &Value, registry: &str) -> Result<Option<Credentials>, OciError> {
        let namespace = secret
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default");
        let name = secret
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let origin = format!("secret {namespace}/{name}");
        let bad = |reason: String| OciError::Credentials {
            origin: origin.clone(),
            reason,
        };
        let key = |k: &str| -> Result<Option<String>, OciError> {
            if let Some(text) = secret
                .pointer(&format!("/stringData/{}", escape_pointer(k)))
                .and_then(Value::as_str)
            {
                return Ok(Some(text.to_owned()));
            }
            let Some(encoded) = secret
                .pointer(&format!("/data/{}", escape_pointer(k)))
                .and_then(Value::as_str)
            else {
                return Ok(None);
            };
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|e| bad(format!("data.{k} is not valid base64: {e}")))?;
            String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| bad(format!("data.{k} is not UTF-8")))
        };
        if let Some(config) = key(".dockerconfigjson")? {
            return parse_docker_config(&config, registry, &origin);
        }
        match (key("username")?, key("password")?) {
            (Some(username), Some(password)) => Ok(Some(Credentials {
                username,
                password,
                origin,
            })),
            (None, None) => Ok(None),
            _ => Err(bad(
                "has only one of username and password; both are required".into(),
            )),
        }
    }

    /// Credentials for `registry` from helm's then docker's config files, `Ok(None)` when
    /// neither has an entry. `env` reads environment variables (injected for tests).
    pub fn from_config_files(
        fs: &dyn Fs,
        env: &dyn Fn(&str) -> Option<String>,
        registry: &str,
    ) -> Result<Option<Credentials>, OciError> {
        for path in config_files(env) {
            if !fs.is_file(&path) {
                continue;
            }
            let origin = path.display().to_string();
            let text = fs
                .read_to_string(&path)
                .map_err(|e| OciError::Credentials {
                    origin: origin.clone(),
                    reason: e.to_string(),
                })?;
            if let Some(found) = parse_docker_config(&text, registry, &origin)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The registry config files consulted, in order.
fn config_files(env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let var = |k: &str| env(k).filter(|v| !v.is_empty());
    let home = var("HOME");
    let mut files = Vec::new();
    if let Some(path) = var("HELM_REGISTRY_CONFIG") {
        files.push(PathBuf::from(path));
    } else if let Some(dir) = var("HELM_CONFIG_HOME") {
        files.push(Path::new(&dir).join("registry/config.json"));
    } else if let Some(dir) = var("XDG_CONFIG_HOME") {
        files.push(Path::new(&dir).join("helm/registry/config.json"));
    } else if let Some(home) = &home {
        files.push(Path::new(home).join(".config/helm/registry/config.json"));
    }
    if let Some(dir) = var("DOCKER_CONFIG") {
        files.push(Path::new(&dir).join("config.json"));
    } else if let Some(home) = &home {
        files.push(Path::new(home).join(".docker/config.json"));
    }
    files
}

/// The `auths` entry of a docker-style config for `registry`. Keys may carry a scheme and a
/// path (`https://index.docker.io/v1/`); Docker Hub's aliases match each other.
fn parse_docker_config(
    text: &str,
    registry: &str,
    origin: &str,
) -> Result<Option<Credentials>, OciError> {
    let bad = |reason: String| OciError::Credentials {
        origin: origin.to_owned(),
        reason,
    };
    let config: Value =
        serde_json::from_str(text).map_err(|e| bad(format!("is not valid JSON: {e}")))?;
    let Some(auths) = config.get("auths").and_then(Value::as_object) else {
        return Ok(None);
    };
    let wanted = canonical_host(registry);
    let Some((key, entry)) = auths.iter().find(|(key, _)| canonical_host(key) == wanted) else {
        return Ok(None);
    };
    let field = |k: &str| {
        entry
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    if let (Some(username), Some(password)) = (field("username"), field("password")) {
        return Ok(Some(Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
            origin: origin.to_owned(),
        }));
    }
    if let Some(auth) = field("auth") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| bad(format!("auths.{key:?}.auth is not base64 of user:password")))?;
        let (username, password) = decoded
            .split_once(':')
            .ok_or_else(|| bad(format!("auths.{key:?}.auth is not base64 of user:password")))?;
        return Ok(Some(Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
            origin: origin.to_owned(),
        }));
    }
    if field("identitytoken").is_some() {
        return Err(bad(format!(
            "auths.{key:?} holds an identity token, which capstan does not support; log in with a user name and password"
        )));
    }
    Ok(None)
}

/// `https://index.docker.io/v1/` → `docker.io`; `ghcr.io/` → `ghcr.io`.
fn canonical_host(key: &str) -> String {
    let key = key
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = key.split('/').next().unwrap_or(key).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".to_owned()
        }
        _ => host,
    }
}

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `bearer` or `basic`, lowercased.
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    /// Parses `Bearer realm="…",service="…",scope="repository:a:pull,push"` (quoted values may
    /// hold commas and backslash escapes).
    pub fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim();
        let (scheme, rest) = header
            .split_once(char::is_whitespace)
            .unwrap_or((header, ""));
        if scheme.is_empty() {
            return None;
        }
        let mut params = BTreeMap::new();
        let mut chars = rest.chars().peekable();
        loop {
            while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
                chars.next();
            }
            let key: String = chars
                .by_ref()
                .take_while(|c| *c != '=')
                .collect::<String>()
                .trim()
                .to_ascii_lowercase();
            if key.is_empty() {
                break;
            }
            let mut value = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => value.extend(chars.next()),
                        '"' => break,
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(c) = chars.peek().copied() {
                    if c == ',' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
                value = value.trim().to_owned();
            }
            params.insert(key, value);
        }
        Some(Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use capstan_core::MemFs;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn challenges() {
        let c = Challenge::parse(
            r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://ghcr.io/token");
        assert_eq!(c.params["service"], "ghcr.io");
        assert_eq!(c.params["scope"], "repository:a/b:pull,push");
        let c = Challenge::parse(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(c.scheme, "basic");
        assert_eq!(c.params["realm"], "Registry Realm");
        let c = Challenge::parse(r#"Bearer realm=http://x/t, service=x, error="invalid_token""#)
            .unwrap();
        assert_eq!(c.params["realm"], "http://x/t");
        assert_eq!(c.params["error"], "invalid_token");
        assert!(Challenge::parse("").is_none());
    }

    #[test]
    fn secrets() {
        let config = json!({"auths": {"ghcr.io": {"auth": b64("bot:s3cret")}}}).to_string();
        let secret = json!({"metadata": {"name": "ghcr", "namespace": "flux-system"},
            "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": b64(&config)}});
        let found = Credentials::from_secret(&secret, "ghcr.io")
            .unwrap()
            .unwrap();
        assert_eq!(
            (found.username.as_str(), found.password.as_str()),
            ("bot", "s3cret")
        );
        assert_eq!(found.origin, "secret flux-system/ghcr");
        assert!(!format!("{found:?}").contains("s3cret"));
        assert!(
            Credentials::from_secret(&secret, "quay.io")
                .unwrap()
                .is_none()
        );

        let plain = json!({"metadata": {"name": "basic"}, "stringData": {"username": "u", "password": "p"}});
        let found = Credentials::from_secret(&plain, "any").unwrap().unwrap();
        assert_eq!(found.basic_header(), format!("Basic {}", b64("u:p")));

        let half = json!({"metadata": {"name": "half"}, "stringData": {"username": "u"}});
        assert!(
            Credentials::from_secret(&half, "any")
                .unwrap_err()
                .to_string()
                .contains("both")
        );
        let garbled =
            json!({"metadata": {"name": "g"}, "data": {"password": "%%%", "username": "dQ=="}});
        assert!(
            Credentials::from_secret(&garbled, "any")
                .unwrap_err()
                .to_string()
                .contains("base64")
        );
    }

    #[test]
    fn config_files_in_helm_then_docker_order() {
        let fs = MemFs::new();
        fs.add_file(
            "/home/u/.config/helm/registry/config.json",
            json!({"auths": {"127.0.0.1:5000": {"username": "helm", "password": "h"}}}).to_string(),
        );
        fs.add_file(
            "/home/u/.docker/config.json",
            json!({"auths": {
                "127.0.0.1:5000": {"auth": b64("docker:d")},
                "https://index.docker.io/v1/": {"auth": b64("hub:x")},
                "quay.io": {"identitytoken": "t"}
            }})
            .to_string(),
        );
        let env = |k: &str| (k == "HOME").then(|| "/home/u".to_owned());
        let found = Credentials::from_config_files(&fs, &env, "127.0.0.1:5000")
            .unwrap()
            .unwrap();
        assert_eq!(found.username, "helm");
        let hub = Credentials::from_config_files(&fs, &env, "docker.io")
            .unwrap()
            .unwrap();
        assert_eq!(hub.username, "hub");
        assert!(
            Credentials::from_config_files(&fs, &env, "quay.io")
                .unwrap_err()
                .to_string()
                .contains("identity token")
        );
        assert!(
            Credentials::from_config_files(&fs, &env, "ghcr.io")
                .unwrap()
                .is_none()
        );

        let env = |k: &str| match k {
            "HOME" => Some("/home/u".to_owned()),
            "HELM_REGISTRY_CONFIG" => Some("/elsewhere.json".to_owned()),
            "DOCKER_CONFIG" => Some("/nowhere".to_owned()),
            _ => None,
        };
        assert!(
            Credentials::from_config_files(&fs, &env, "127.0.0.1:5000")
                .unwrap()
                .is_none()
        );
        fs.add_file("/elsewhere.json", "{not json");
        assert!(
            Credentials::from_config_files(&fs, &env, "127.0.0.1:5000")
                .unwrap_err()
                .to_string()
                .contains("/elsewhere.json")
        );
    }
}
