//! A minimal OCI distribution client over `ureq`: tag listing with `Link` pagination, manifests
//! by tag or digest, blobs verified against their digest. Requests go out anonymously first; a
//! `401` with a `WWW-Authenticate` challenge is answered with a bearer token from the challenge's
//! realm (asked with basic credentials when some are known) or with basic auth, and the answer
//! is reused for later requests to the same repository. Redirects (blob storage) are followed
//! without the credentials.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

use capstan_core::Value;
use sha2::{Digest as _, Sha256, Sha512};

use super::OciError;
use super::auth::{Challenge, Credentials};
use super::reference::{Repository, is_digest};

/// The manifest media types asked for, single manifests first.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.oci.image.index.v1+json;q=0.5, \
application/vnd.docker.distribution.manifest.list.v2+json;q=0.5";
/// Manifests larger than this are refused (the distribution spec suggests 4 MiB).
const MAX_MANIFEST: u64 = 4 << 20;
/// Blobs larger than this are refused before downloading (charts are small).
const MAX_BLOB: u64 = 256 << 20;
/// Tag list pages followed at most.
const MAX_PAGES: usize = 1000;

/// How to reach a registry.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Plain HTTP instead of HTTPS (`spec.insecure: true`).
    pub plain_http: bool,
    /// Per-request timeout (`spec.timeout`, Flux's default 60s).
    pub timeout: Duration,
    /// Credentials to answer challenges with.
    pub credentials: Option<Credentials>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            plain_http: false,
            timeout: Duration::from_secs(60),
            credentials: None,
        }
    }
}

/// A content descriptor (`mediaType`, `digest`, `size`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// A single (non-index) image manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// `sha256:…` of the manifest bytes.
    pub digest: String,
    pub media_type: String,
    pub config: Option<Descriptor>,
    pub layers: Vec<Descriptor>,
    pub annotations: BTreeMap<String, String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManifestDocument {
    #[serde(default)]
    schema_version: Option<i64>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    manifests: Option<Vec<Value>>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

type Response = ureq::http::Response<ureq::Body>;

/// A registry client. Cheap to share; caches authorization per repository.
pub struct Client {
    agent: ureq::Agent,
    network: std::sync::Arc<capstan_core::network::Reachability>,
    options: ClientOptions,
    authorization: Mutex<HashMap<String, String>>,
}

impl Client {
    pub fn new(options: ClientOptions) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(options.timeout))
            .user_agent(concat!("capstan/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Client {
            agent,
            network: std::sync::Arc::default(),
            options,
            authorization: Mutex::new(HashMap::new()),
        }
    }

    /// Shares a run's record of the network's reachability with the run's other fetchers.
    pub fn share_network(&mut self, network: &std::sync::Arc<capstan_core::network::Reachability>) {
        self.network = network.clone();
    }

    fn base(&self, repo: &Repository) -> String {
        let scheme = if self.options.plain_http {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{}", repo.api_host())
    }

    /// Every tag of `repo`, in the registry's order, following `Link` pagination.
    pub fn tags(&self, repo: &Repository) -> Result<Vec<String>, OciError> {
        let base = self.base(repo);
        let mut url = format!("{base}/v2/{}/tags/list", repo.name);
        let mut tags = Vec::new();
        for _ in 0..MAX_PAGES {
            let mut response = self.get(repo, &url, None)?;
            let status = response.status().as_u16();
            let next = response
                .headers()
                .get("link")
                .and_then(|v| v.to_str().ok())
                .and_then(next_link);
            let body = read_body(&mut response, MAX_MANIFEST, &url)?;
            match status {
                200 => {}
                404 => {
                    return Err(OciError::RepositoryNotFound {
                        repository: repo.to_string(),
                    });
                }
                _ => return Err(http_error(&url, status, &body)),
            }
            let page: Value = serde_json::from_slice(&body).map_err(|e| OciError::BadResponse {
                url: url.clone(),
                reason: format!("tag list is not JSON: {e}"),
            })?;
            if let Some(Value::Array(items)) = page.get("tags") {
                tags.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            match next {
                Some(next) => {
                    url = next_page(&base, &next).ok_or_else(|| OciError::BadResponse {
                        url: url.clone(),
                        reason: format!(
                            "tag list `Link` header points away from the registry ({next}); not followed, so the registry's credentials are not sent there"
                        ),
                    })?;
                }
                None => return Ok(tags),
            }
        }
        Err(OciError::BadResponse {
            url,
            reason: format!("tag list has more than {MAX_PAGES} pages"),
        })
    }

    /// The manifest `reference` (a tag or a digest) of `repo`, its digest checked.
    pub fn manifest(&self, repo: &Repository, reference: &str) -> Result<Manifest, OciError> {
        let url = format!("{}/v2/{}/manifests/{reference}", self.base(repo), repo.name);
        let mut response = self.get(repo, &url, Some(MANIFEST_ACCEPT))?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.split(';').next().unwrap_or(s).trim().to_owned())
        };
        let content_type = header("content-type");
        let announced = header("docker-content-digest");
        let body = read_body(&mut response, MAX_MANIFEST, &url)?;
        match status {
            200 => {}
            404 if error_codes(&body).iter().any(|c| c == "NAME_UNKNOWN") => {
                return Err(OciError::RepositoryNotFound {
                    repository: repo.to_string(),
                });
            }
            404 => {
                return Err(OciError::ManifestNotFound {
                    repository: repo.to_string(),
                    reference: reference.to_owned(),
                });
            }
            _ => return Err(http_error(&url, status, &body)),
        }
        let computed = format!("sha256:{}", hex(&Sha256::digest(&body)));
        for expected in [
            announced.as_deref(),
            Some(reference).filter(|r| is_digest(r)),
        ]
        .into_iter()
        .flatten()
        {
            if digest_of(expected, &body).as_deref() != Some(expected) {
                return Err(OciError::DigestMismatch {
                    what: format!("manifest {repo}@{reference}"),
                    expected: expected.to_owned(),
                    actual: digest_of(expected, &body).unwrap_or_else(|| computed.clone()),
                });
            }
        }
        let document: ManifestDocument =
            serde_json::from_slice(&body).map_err(|e| OciError::BadResponse {
                url: url.clone(),
                reason: format!("manifest is not valid JSON: {e}"),
            })?;
        let media_type = document
            .media_type
            .clone()
            .or(content_type)
            .unwrap_or_default();
        if document.manifests.is_some()
            || media_type.contains("index")
            || media_type.contains("list")
        {
            return Err(OciError::BadResponse {
                url,
                reason: format!(
                    "{repo}:{reference} is an image index ({media_type}), not a single artifact manifest"
                ),
            });
        }
        if document.schema_version != Some(2) {
            return Err(OciError::BadResponse {
                url,
                reason: format!(
                    "manifest schemaVersion {} is not supported (only 2)",
                    document.schema_version.unwrap_or(0)
                ),
            });
        }
        let digest = match reference {
            r if is_digest(r) => r.to_owned(),
            _ => announced.unwrap_or(computed),
        };
        Ok(Manifest {
            digest,
            media_type,
            config: document.config,
            layers: document.layers.unwrap_or_default(),
            annotations: document.annotations,
        })
    }

    /// The blob `descriptor` of `repo`, its size and digest checked.
    pub fn blob(&self, repo: &Repository, descriptor: &Descriptor) -> Result<Vec<u8>, OciError> {
        let what = format!("blob {}@{}", repo, descriptor.digest);
        if !is_digest(&descriptor.digest) {
            return Err(OciError::BadResponse {
                url: repo.to_string(),
                reason: format!("layer digest {:?} is not a digest", descriptor.digest),
            });
        }
        if descriptor.size > MAX_BLOB {
            return Err(OciError::BadResponse {
                url: repo.to_string(),
                reason: format!(
                    "{what} is {} bytes, more than the {MAX_BLOB} capstan accepts",
                    descriptor.size
                ),
            });
        }
        let url = format!(
            "{}/v2/{}/blobs/{}",
            self.base(repo),
            repo.name,
            descriptor.digest
        );
        let mut response = self.get(repo, &url, None)?;
        let status = response.status().as_u16();
        let limit = if descriptor.size > 0 {
            descriptor.size + 1
        } else {
            MAX_BLOB
        };
        let body = read_body(&mut response, limit, &url)?;
        match status {
            200 => {}
            404 => {
                return Err(OciError::ManifestNotFound {
                    repository: repo.to_string(),
                    reference: descriptor.digest.clone(),
                });
            }
            _ => return Err(http_error(&url, status, &body)),
        }
        let actual = digest_of(&descriptor.digest, &body).ok_or_else(|| OciError::BadResponse {
            url: url.clone(),
            reason: format!(
                "digest algorithm of {} is not supported (sha256, sha512)",
                descriptor.digest
            ),
        })?;
        if actual != descriptor.digest
            || (descriptor.size > 0 && body.len() as u64 != descriptor.size)
        {
            return Err(OciError::DigestMismatch {
                what: format!(
                    "{what} ({} bytes, {} announced)",
                    body.len(),
                    descriptor.size
                ),
                expected: descriptor.digest.clone(),
                actual,
            });
        }
        Ok(body)
    }

    /// GET `url`, answering one authentication challenge.
    fn get(
        &self,
        repo: &Repository,
        url: &str,
        accept: Option<&str>,
    ) -> Result<Response, OciError> {
        if let Some(down) = self.network.unreachable() {
            return Err(OciError::Unreachable {
                url: url.to_owned(),
                reason: down.to_string(),
            });
        }
        let mut answered = false;
        loop {
            let mut request = self.agent.get(url);
            if let Some(accept) = accept {
                request = request.header("Accept", accept);
            }
            let cached = self
                .authorization
                .lock()
                .ok()
                .and_then(|m| m.get(&repo.name).cloned());
            if let Some(authorization) = &cached {
                request = request.header("Authorization", authorization);
            }
            let mut response = request
                .call()
                .map_err(|e| transport_error(url, e, &self.network))?;
            let status = response.status().as_u16();
            if status == 401 && !answered {
                let challenge = response
                    .headers()
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok())
                    .and_then(Challenge::parse);
                let authorization = self.answer(repo, challenge)?;
                if let Ok(mut map) = self.authorization.lock() {
                    map.insert(repo.name.clone(), authorization);
                }
                answered = true;
                continue;
            }
            if status == 401 || status == 403 {
                let body = read_body(&mut response, 64 << 10, url).unwrap_or_default();
                return Err(self.refused(repo, status, &body));
            }
            return Ok(response);
        }
    }

    /// The `Authorization` value answering `challenge`.
    fn answer(&self, repo: &Repository, challenge: Option<Challenge>) -> Result<String, OciError> {
        let credentials = self.options.credentials.as_ref();
        let Some(challenge) = challenge else {
            return credentials.map(Credentials::basic_header).ok_or_else(|| {
                self.refused(
                    repo,
                    401,
                    b"no WWW-Authenticate challenge and no credentials",
                )
            });
        };
        match challenge.scheme.as_str() {
            "basic" => credentials
                .map(Credentials::basic_header)
                .ok_or_else(|| self.refused(repo, 401, b"basic authentication required")),
            "bearer" => {
                let realm = challenge
                    .params
                    .get("realm")
                    .ok_or_else(|| OciError::BadResponse {
                        url: repo.to_string(),
                        reason: "bearer challenge without a realm".into(),
                    })?;
                let scope = challenge
                    .params
                    .get("scope")
                    .cloned()
                    .unwrap_or_else(|| format!("repository:{}:pull", repo.name));
                let mut request = self.agent.get(realm).query("scope", &scope);
                if let Some(service) = challenge.params.get("service") {
                    request = request.query("service", service);
                }
                if let Some(credentials) = credentials {
                    request = request.header("Authorization", &credentials.basic_header());
                }
                let mut response = request
                    .call()
                    .map_err(|e| transport_error(realm, e, &self.network))?;
                let status = response.status().as_u16();
                let body = read_body(&mut response, 1 << 20, realm)?;
                if status == 401 || status == 403 {
                    return Err(self.refused(repo, status, &body));
                }
                if status != 200 {
                    return Err(http_error(realm, status, &body));
                }
                let answer: Value =
                    serde_json::from_slice(&body).map_err(|e| OciError::BadResponse {
                        url: realm.clone(),
                        reason: format!("token response is not JSON: {e}"),
                    })?;
                let token = answer
                    .get("token")
                    .or_else(|| answer.get("access_token"))
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| OciError::BadResponse {
                        url: realm.clone(),
                        reason: "token response has no token".into(),
                    })?;
                Ok(format!("Bearer {token}"))
            }
            other => Err(OciError::BadResponse {
                url: repo.to_string(),
                reason: format!("unsupported authentication scheme {other:?}"),
            }),
        }
    }

    fn refused(&self, repo: &Repository, status: u16, body: &[u8]) -> OciError {
        let mut detail = error_messages(body);
        if detail.is_empty() {
            detail = String::from_utf8_lossy(&body[..body.len().min(200)])
                .trim()
                .to_owned();
        }
        OciError::AuthRefused {
            repository: repo.to_string(),
            status,
            credentials: self
                .options
                .credentials
                .as_ref()
                .map(|c| format!("with credentials from {}", c.origin))
                .unwrap_or_else(|| "anonymously (no credentials found)".into()),
            detail,
        }
    }
}

fn read_body(response: &mut Response, limit: u64, url: &str) -> Result<Vec<u8>, OciError> {
    let mut body = Vec::new();
    response
        .body_mut()
        .as_reader()
        .take(limit)
        .read_to_end(&mut body)
        .map_err(|e| OciError::Unreachable {
            url: url.to_owned(),
            reason: format!("reading the response failed: {e}"),
        })?;
    Ok(body)
}

fn transport_error(
    url: &str,
    error: ureq::Error,
    network: &capstan_core::network::Reachability,
) -> OciError {
    if crate::charts::http::unreachable(&error, url) {
        let cause = network.mark(&crate::charts::http::host_of(url), &error.to_string());
        return OciError::Unreachable {
            url: url.to_owned(),
            reason: cause.to_string(),
        };
    }
    let reason = match &error {
        ureq::Error::Timeout(_) => "timed out".to_owned(),
        ureq::Error::HostNotFound => "host not found".to_owned(),
        ureq::Error::ConnectionFailed => "connection failed".to_owned(),
        ureq::Error::Io(e) => e.to_string(),
        other => other.to_string(),
    };
    OciError::Unreachable {
        url: url.to_owned(),
        reason,
    }
}

fn http_error(url: &str, status: u16, body: &[u8]) -> OciError {
    let mut detail = error_messages(body);
    if detail.is_empty() {
        detail = String::from_utf8_lossy(&body[..body.len().min(200)])
            .trim()
            .to_owned();
    }
    OciError::Http {
        url: url.to_owned(),
        status,
        detail,
    }
}

/// The `code`s of a distribution error body (`{"errors":[{"code":…,"message":…}]}`).
fn error_codes(body: &[u8]) -> Vec<String> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("errors").and_then(Value::as_array).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.get("code").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

fn error_messages(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("errors").and_then(Value::as_array).cloned())
        .unwrap_or_default()
        .iter()
        .map(|e| {
            let code = e.get("code").and_then(Value::as_str).unwrap_or("");
            let message = e.get("message").and_then(Value::as_str).unwrap_or("");
            format!("{code}: {message}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The URL of a `Link: <…>; rel="next"` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            })
            .then(|| target.to_owned())
    })
}

/// The URL of the next tag-list page: a path on the registry, or an absolute URL on the same
/// scheme and host. `None` for anything else: the cached `Authorization` is sent with every
/// request to the repository, so following a foreign host would hand it the credentials.
fn next_page(base: &str, next: &str) -> Option<String> {
    if next.starts_with('/') && !next.starts_with("//") {
        return Some(format!("{base}{next}"));
    }
    let rest = next.strip_prefix(base)?;
    (rest.is_empty() || rest.starts_with(['/', '?'])).then(|| next.to_owned())
}

/// `body`'s digest in the algorithm of `like` (`sha256:`/`sha512:`), `None` for others.
pub(crate) fn digest_of(like: &str, body: &[u8]) -> Option<String> {
    match like.split_once(':')?.0 {
        "sha256" => Some(format!("sha256:{}", hex(&Sha256::digest(body)))),
        "sha512" => Some(format!("sha512:{}", hex(&Sha512::digest(body)))),
        _ => None,
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers() {
        assert_eq!(
            next_link(r#"</v2/charts/demo/tags/list?last=1.2.3&n=2>; rel="next""#).as_deref(),
            Some("/v2/charts/demo/tags/list?last=1.2.3&n=2")
        );
        assert_eq!(
            next_link(r#"<https://r/prev>; rel="prev", <https://r/next>; rel=next"#).as_deref(),
            Some("https://r/next")
        );
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn next_pages_stay_on_the_registry() {
        let base = "https://r.test:5000";
        let table: &[(&str, Option<&str>)] = &[
            (
                "/v2/a/tags/list?last=1",
                Some("https://r.test:5000/v2/a/tags/list?last=1"),
            ),
            (
                "https://r.test:5000/v2/a/tags/list?n=2",
                Some("https://r.test:5000/v2/a/tags/list?n=2"),
            ),
            ("https://evil.test/v2/a/tags/list", None),
            ("https://r.test:5000.evil.test/v2", None),
            ("https://r.test:50001/v2", None),
            ("http://r.test:5000/v2", None),
            ("//evil.test/v2", None),
            ("v2/relative", None),
        ];
        for (link, wanted) in table {
            assert_eq!(next_page(base, link).as_deref(), *wanted, "{link}");
        }
    }

    #[test]
    fn digests_and_error_bodies() {
        assert_eq!(
            digest_of("sha256:x", b"").unwrap(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(
            digest_of("sha512:x", b"")
                .unwrap()
                .starts_with("sha512:cf83e1357eefb8bd")
        );
        assert_eq!(digest_of("md5:x", b""), None);
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#;
        assert_eq!(error_codes(body), ["MANIFEST_UNKNOWN"]);
        assert_eq!(error_messages(body), "MANIFEST_UNKNOWN: manifest unknown");
        assert!(error_codes(b"<html>").is_empty());
    }

    #[test]
    fn unreachable_registry_is_an_error_not_a_panic() {
        // Port 9 (discard) on loopback is closed on any sane test machine.
        let client = Client::new(ClientOptions {
            plain_http: true,
            timeout: Duration::from_secs(5),
            credentials: None,
        });
        let repo = Repository::parse("oci://127.0.0.1:9/charts/demo").unwrap();
        let err = client.tags(&repo).unwrap_err();
        assert!(matches!(err, OciError::Unreachable { .. }), "{err}");
        assert!(err.to_string().contains("127.0.0.1:9"), "{err}");
    }

    /// A fake registry demanding a bearer token from its own realm, which in turn demands
    /// basic credentials; tags come in two pages.
    fn token_registry() -> (u16, std::sync::Arc<Mutex<Vec<String>>>) {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let mut authorization = String::new();
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':')
                        && k.eq_ignore_ascii_case("authorization")
                    {
                        authorization = v.trim().to_owned();
                    }
                }
                let path = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("")
                    .to_owned();
                log.lock()
                    .unwrap()
                    .push(format!("{path} [{authorization}]"));
                let basic = Credentials {
                    username: "user".into(),
                    password: "pw".into(),
                    origin: String::new(),
                }
                .basic_header();
                let (status, headers, body) = if path.starts_with("/token") {
                    if authorization == basic && path.contains("scope=repository%3Ar%2Fx%3Apull") {
                        (
                            "200 OK",
                            String::new(),
                            r#"{"access_token":"T0K"}"#.to_owned(),
                        )
                    } else {
                        (
                            "401 Unauthorized",
                            String::new(),
                            r#"{"details":"bad credentials"}"#.to_owned(),
                        )
                    }
                } else if authorization != "Bearer T0K" {
                    (
                        "401 Unauthorized",
                        format!("WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"fake\",scope=\"repository:r/x:pull\"\r\n"),
                        r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#.to_owned(),
                    )
                } else if path.contains("last=") {
                    (
                        "200 OK",
                        String::new(),
                        r#"{"name":"r/x","tags":["1.1.0"]}"#.to_owned(),
                    )
                } else {
                    (
                        "200 OK",
                        "Link: </v2/r/x/tags/list?last=1.0.0&n=1>; rel=\"next\"\r\n".to_owned(),
                        r#"{"name":"r/x","tags":["1.0.0"]}"#.to_owned(),
                    )
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        (port, seen)
    }

    #[test]
    fn bearer_token_flow_with_basic_credentials_and_pagination() {
        let (port, seen) = token_registry();
        let repo = Repository::parse(&format!("oci://127.0.0.1:{port}/r/x")).unwrap();
        let options = |password: &str| ClientOptions {
            plain_http: true,
            timeout: Duration::from_secs(10),
            credentials: Some(Credentials {
                username: "user".into(),
                password: password.into(),
                origin: "test".into(),
            }),
        };
        let client = Client::new(options("pw"));
        assert_eq!(client.tags(&repo).unwrap(), ["1.0.0", "1.1.0"]);
        let log = seen.lock().unwrap().clone();
        assert_eq!(log.len(), 4, "{log:?}");
        assert!(log[0].ends_with("[]"), "anonymous first: {log:?}");
        assert!(log[1].starts_with("/token?"), "{log:?}");
        assert!(log[1].contains("service=fake"), "{log:?}");
        assert!(
            log[2].ends_with("[Bearer T0K]") && log[3].ends_with("[Bearer T0K]"),
            "{log:?}"
        );

        let err = Client::new(options("wrong")).tags(&repo).unwrap_err();
        assert!(
            matches!(err, OciError::AuthRefused { status: 401, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("credentials from test"), "{err}");
        let anonymous = Client::new(ClientOptions {
            credentials: None,
            ..options("")
        });
        let err = anonymous.tags(&repo).unwrap_err().to_string();
        assert!(err.contains("anonymously"), "{err}");
    }
}
