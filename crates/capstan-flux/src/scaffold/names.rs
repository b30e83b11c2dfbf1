//! Validation of what a user types into `app add`: names (DNS-1123 labels), hostnames
//! (DNS-1123 subdomains), pinned image references and storage quantities. Each check returns
//! the reason a value is refused, phrased for the person who typed it.

/// Checks a DNS-1123 label, as Kubernetes requires for namespace and service names:
/// at most 63 characters, lowercase letters, digits and `-`, starting and ending alphanumeric.
pub fn check_dns1123_label(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("it is empty".into());
    }
    if value.len() > 63 {
        return Err(format!(
            "it is {} characters long; at most 63 are allowed",
            value.len()
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "{c:?} is not allowed; use lowercase letters, digits and '-' (DNS-1123 label)"
        ));
    }
    if value.starts_with('-') || value.ends_with('-') {
        return Err("it must start and end with a letter or digit (DNS-1123 label)".into());
    }
    Ok(())
}

/// Checks a DNS-1123 subdomain used as an ingress host: dot-separated labels, at most 253
/// characters. A leading `*.` wildcard is not accepted for an application's own host.
pub fn check_hostname(value: &str) -> Result<(), String> {
    if value.len() > 253 {
        return Err(format!(
            "it is {} characters long; at most 253 are allowed",
            value.len()
        ));
    }
    for label in value.split('.') {
        check_dns1123_label(label).map_err(|reason| format!("label {label:?}: {reason}"))?;
    }
    Ok(())
}

/// A container image reference, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry and path, e.g. `ghcr.io/org/app` or `nginx`.
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>`.
    pub digest: Option<String>,
}

/// Parses an image reference and refuses one that is not pinned: it needs a tag other than
/// `latest`, or a digest.
pub fn parse_pinned_image(value: &str) -> Result<ImageRef, String> {
    if value.is_empty() {
        return Err("it is empty".into());
    }
    if value.chars().any(char::is_whitespace) {
        return Err("it contains whitespace".into());
    }
    let (name, digest) = match value.split_once('@') {
        Some((name, digest)) => {
            let hex = digest
                .strip_prefix("sha256:")
                .ok_or_else(|| format!("digest {digest:?} must be sha256:<64 hex digits>"))?;
            if hex.len() != 64 || !hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
                return Err(format!(
                    "digest {digest:?} must be sha256: followed by 64 lowercase hex digits"
                ));
            }
            (name, Some(digest.to_owned()))
        }
        None => (value, None),
    };
    // A tag is the part after the last ':' that comes after the last '/', so a registry port
    // (`registry:5000/app`) is not taken for a tag.
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repository, tag) = match name[last_slash..].rfind(':') {
        Some(i) => {
            let at = last_slash + i;
            (&name[..at], Some(name[at + 1..].to_owned()))
        }
        None => (name, None),
    };
    if repository.is_empty() {
        return Err("it has no repository name".into());
    }
    if repository
        .chars()
        .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':')))
    {
        return Err(format!(
            "repository {repository:?} has characters an image name cannot have"
        ));
    }
    let parts: Vec<&str> = repository.split('/').collect();
    let is_registry = |part: &str| part.contains('.') || part.contains(':') || part == "localhost";
    let path = if parts.len() > 1 && is_registry(parts[0]) {
        &parts[1..]
    } else {
        &parts[..]
    };
    if path.iter().any(|part| {
        part.is_empty()
            || part.contains(':')
            || part.chars().any(|c| {
                !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
            })
    }) {
        return Err(format!(
            "repository {repository:?} must be lowercase path components separated by '/'"
        ));
    }
    if let Some(tag) = &tag {
        let valid = !tag.is_empty()
            && tag.len() <= 128
            && tag
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !valid {
            return Err(format!("tag {tag:?} is not a valid image tag"));
        }
    }
    match (&tag, &digest) {
        (None, None) => Err(
            "it has neither a tag nor a digest; pin it as IMAGE:TAG or IMAGE@sha256:DIGEST".into(),
        ),
        (Some(tag), None) if tag == "latest" => Err(
            "the tag \"latest\" moves; pin a version tag or a digest (IMAGE@sha256:DIGEST)".into(),
        ),
        _ => Ok(ImageRef {
            repository: repository.to_owned(),
            tag,
            digest,
        }),
    }
}

/// Checks a storage size as a Kubernetes quantity with a binary or decimal suffix (`1Gi`,
/// `500Mi`, `10G`); a bare number of bytes is refused as almost certainly a mistake.
pub fn check_storage_size(value: &str) -> Result<(), String> {
    const SUFFIXES: &[&str] = &[
        "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E",
    ];
    let Some(suffix) = SUFFIXES.iter().find(|s| value.ends_with(*s)) else {
        return Err("use a size with a unit, such as 1Gi or 500Mi".into());
    };
    let number = &value[..value.len() - suffix.len()];
    let mut parts = number.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let fraction = parts.next();
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if !digits(whole) || fraction.is_some_and(|f| !digits(f)) {
        return Err("use a size with a unit, such as 1Gi or 500Mi".into());
    }
    if number.chars().all(|c| c == '0' || c == '.') {
        return Err("the size must be more than zero".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        for ok in ["a", "my-app", "app2", &"a".repeat(63)] {
            assert!(check_dns1123_label(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "My-App",
            "-app",
            "app-",
            "my_app",
            "a.b",
            &"a".repeat(64),
        ] {
            assert!(check_dns1123_label(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hostnames() {
        assert!(check_hostname("app.lab.example.com").is_ok());
        assert!(check_hostname("app..example.com").is_err());
        assert!(check_hostname("*.example.com").is_err());
        assert!(check_hostname("App.example.com").is_err());
    }

    #[test]
    fn images() {
        let image = parse_pinned_image("nginx:1.27").unwrap();
        assert_eq!(image.repository, "nginx");
        assert_eq!(image.tag.as_deref(), Some("1.27"));
        let digest = format!("sha256:{}", "a".repeat(64));
        let image = parse_pinned_image(&format!("ghcr.io/org/app@{digest}")).unwrap();
        assert_eq!(image.tag, None);
        assert_eq!(image.digest.as_deref(), Some(digest.as_str()));
        let image = parse_pinned_image(&format!("registry:5000/app:v1@{digest}")).unwrap();
        assert_eq!(image.repository, "registry:5000/app");
        assert_eq!(image.tag.as_deref(), Some("v1"));

        for bad in [
            "nginx",
            "nginx:latest",
            "registry:5000/app",
            "nginx@sha256:abc",
            "nginx@md5:0123",
            "",
            "ngi nx:1",
            "nginx:",
            "nginx:-bad",
            "ghcr.io/Org/app:1",
        ] {
            assert!(parse_pinned_image(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        for ok in ["1Gi", "500Mi", "1.5Gi", "10G"] {
            assert!(check_storage_size(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1", "Gi", "0Gi", "1gb", "-1Gi", "1.Gi"] {
            assert!(check_storage_size(bad).is_err(), "{bad}");
        }
    }
}
