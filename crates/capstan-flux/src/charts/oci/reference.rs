//! `oci://host[:port]/path` addresses as Flux sources write them: the registry host (the API
//! host it maps to, Docker Hub's `docker.io` → `registry-1.docker.io`) and the repository path,
//! validated against the distribution spec's name grammar so a typo fails before any request.

use std::fmt;

use super::OciError;

/// A repository in a registry: `host[:port]` and the `/`-separated repository name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Repository {
    /// The registry as written (`ghcr.io`, `127.0.0.1:5000`); also the credentials key.
    pub registry: String,
    /// The repository name (`stefanprodan/charts/podinfo`).
    pub name: String,
}

impl Repository {
    /// Parses `oci://host[:port]/path`. A tag or digest in the URL is refused, as Flux refuses it
    /// (the reference belongs in `spec.ref` or the chart version).
    pub fn parse(url: &str) -> Result<Repository, OciError> {
        let invalid = |reason: &str| OciError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = url
            .strip_prefix("oci://")
            .ok_or_else(|| invalid("must be in the form oci://<host>/<repository>"))?;
        let rest = rest.trim_end_matches('/');
        let (registry, name) = rest
            .split_once('/')
            .ok_or_else(|| invalid("has no repository path after the host"))?;
        if registry.is_empty()
            || !registry
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        {
            return Err(invalid("has an invalid registry host"));
        }
        if let Some((_, port)) = registry.rsplit_once(':')
            && !registry.ends_with(']')
            && (port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(invalid("has an invalid port"));
        }
        if name.contains('@') {
            return Err(invalid("must not contain a digest; use spec.ref.digest"));
        }
        if let Some((_, tag)) = name.rsplit_once(':') {
            return Err(invalid(&format!("must not contain a tag; remove ':{tag}'")));
        }
        if !valid_name(name) {
            return Err(invalid(&format!(
                "repository name {name:?} is not a valid OCI name (lowercase letters, digits, and . _ - separators)"
            )));
        }
        Ok(Repository {
            registry: registry.to_owned(),
            name: name.to_owned(),
        })
    }

    /// This repository with `/child` appended (a HelmRepository's chart).
    pub fn join(&self, child: &str) -> Result<Repository, OciError> {
        let name = format!("{}/{}", self.name, child.trim_matches('/'));
        if !valid_name(&name) {
            return Err(OciError::InvalidUrl {
                url: format!("oci://{}/{name}", self.registry),
                reason: format!("chart name {child:?} is not a valid OCI repository name"),
            });
        }
        Ok(Repository {
            registry: self.registry.clone(),
            name,
        })
    }

    /// The host the distribution API is served from.
    pub fn api_host(&self) -> &str {
        match self.registry.as_str() {
            "docker.io" | "index.docker.io" => "registry-1.docker.io",
            other => other,
        }
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "oci://{}/{}", self.registry, self.name)
    }
}

/// The distribution spec's repository name grammar: components of `[a-z0-9]+` joined by `.`,
/// `_`, `__` or runs of `-`, separated by `/`.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.split('/').all(|component| {
            let bytes = component.as_bytes();
            let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
            if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
                return false;
            }
            let mut i = 0;
            while i < bytes.len() {
                if alnum(bytes[i]) {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < bytes.len() && !alnum(bytes[i]) {
                    i += 1;
                }
                let sep = &component[start..i];
                if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-')) {
                    return false;
                }
            }
            true
        })
}

/// True when `s` is a digest (`algorithm:hex`) rather than a tag.
pub fn is_digest(s: &str) -> bool {
    s.split_once(':').is_some_and(|(alg, hex)| {
        !alg.is_empty()
            && alg
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c))
            && !hex.is_empty()
            && hex.chars().all(|c| c.is_ascii_hexdigit())
    })
}

/// True when `s` is a valid tag (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`).
pub fn is_tag(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_ports_and_paths() {
        let r = Repository::parse("oci://127.0.0.1:5000/charts/demo").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.name, "charts/demo");
        assert_eq!(r.to_string(), "oci://127.0.0.1:5000/charts/demo");
        let r = Repository::parse("oci://ghcr.io/stefanprodan/charts/").unwrap();
        assert_eq!(r.name, "stefanprodan/charts");
        assert_eq!(
            r.join("podinfo").unwrap().name,
            "stefanprodan/charts/podinfo"
        );
        assert_eq!(
            Repository::parse("oci://docker.io/bitnamicharts")
                .unwrap()
                .api_host(),
            "registry-1.docker.io"
        );
    }

    #[test]
    fn refuses_bad_urls() {
        for (url, needle) in [
            ("https://ghcr.io/a", "oci://"),
            ("oci://ghcr.io", "no repository path"),
            ("oci://ghcr.io/a/b:1.0", "must not contain a tag"),
            ("oci://ghcr.io/a/b@sha256:00", "digest"),
            ("oci://ghcr.io/Upper/case", "not a valid OCI name"),
            ("oci://ghcr.io/a//b", "not a valid OCI name"),
            ("oci://host:port/a", "invalid port"),
            ("oci://ho st/a", "invalid registry host"),
        ] {
            let err = Repository::parse(url).unwrap_err().to_string();
            assert!(err.contains(needle), "{url}: {err}");
        }
        let base = Repository::parse("oci://ghcr.io/a").unwrap();
        assert!(base.join("Bad Chart").is_err());
    }

    #[test]
    fn names_tags_and_digests() {
        for ok in ["a", "a.b", "a_b", "a__b", "a---b", "a/b-c/d9"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a...b", "a___b", "a/", "A"] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(is_digest("sha256:abcdef0123"));
        assert!(!is_digest("1.2.3"));
        assert!(!is_digest("sha256:"));
        assert!(is_tag("1.3.0_build.1"));
        assert!(!is_tag("1.3.0+build.1"));
        assert!(!is_tag(".hidden"));
    }
}
