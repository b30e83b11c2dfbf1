//! Object names and metadata as the API server validates them: DNS-1123 subdomains for most
//! kinds, DNS-1123 labels for Namespaces, DNS-1035 labels for Services, path segments for RBAC
//! kinds; namespaces as DNS-1123 labels; label keys and values.

/// The naming rule a kind's `metadata.name` must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    Subdomain,
    Label,
    Dns1035Label,
    PathSegment,
}

impl NameRule {
    pub fn for_kind(group: &str, kind: &str) -> NameRule {
        match (group, kind) {
            ("", "Namespace") => NameRule::Label,
            ("", "Service") => NameRule::Dns1035Label,
            (
                "rbac.authorization.k8s.io",
                "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding",
            ) => NameRule::PathSegment,
            _ => NameRule::Subdomain,
        }
    }

    /// Why `name` breaks the rule, or `None` when it is valid.
    pub fn check(self, name: &str) -> Option<String> {
        match self {
            NameRule::Subdomain => dns1123_subdomain(name),
            NameRule::Label => dns1123_label(name),
            NameRule::Dns1035Label => dns1035_label(name),
            NameRule::PathSegment => path_segment(name),
        }
    }
}

fn is_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// A DNS-1123 label: at most 63 lowercase alphanumerics or '-', starting and ending alphanumeric.
pub fn dns1123_label(name: &str) -> Option<String> {
    let b = name.as_bytes();
    if b.is_empty() {
        return Some("must not be empty".to_owned());
    }
    if b.len() > 63 {
        return Some(format!(
            "must be no more than 63 characters (is {})",
            b.len()
        ));
    }
    if !b.iter().all(|&c| is_alnum(c) || c == b'-') || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1])
    {
        return Some(
            "must be a DNS-1123 label: lowercase alphanumerics and '-', starting and ending with an alphanumeric"
                .to_owned(),
        );
    }
    None
}

/// A DNS-1035 label: a DNS-1123 label that starts with a letter.
pub fn dns1035_label(name: &str) -> Option<String> {
    if let Some(problem) = dns1123_label(name) {
        return Some(problem.replace("DNS-1123", "DNS-1035"));
    }
    if !name.as_bytes()[0].is_ascii_lowercase() {
        return Some("must be a DNS-1035 label: it must start with a lowercase letter".to_owned());
    }
    None
}

/// A DNS-1123 subdomain: at most 253 characters, dot-separated DNS-1123 labels (each label may
/// exceed 63 characters, as the API server only bounds the total).
pub fn dns1123_subdomain(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".to_owned());
    }
    if name.len() > 253 {
        return Some(format!(
            "must be no more than 253 characters (is {})",
            name.len()
        ));
    }
    let valid = name.split('.').all(|part| {
        let b = part.as_bytes();
        !b.is_empty()
            && b.iter().all(|&c| is_alnum(c) || c == b'-')
            && is_alnum(b[0])
            && is_alnum(b[b.len() - 1])
    });
    if !valid {
        return Some(
            "must be a DNS-1123 subdomain: lowercase alphanumerics, '-' or '.', starting and ending with an alphanumeric"
                .to_owned(),
        );
    }
    None
}

/// A path segment name (RBAC kinds): not `.` or `..`, no `/` or `%`.
pub fn path_segment(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".to_owned());
    }
    if name == "." || name == ".." {
        return Some(format!("may not be '{name}'"));
    }
    if name.contains('/') || name.contains('%') {
        return Some("may not contain '/' or '%'".to_owned());
    }
    None
}

/// A label value: empty, or at most 63 characters of alphanumerics, '-', '_' or '.', starting
/// and ending with an alphanumeric.
pub fn label_value(value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    qualified_part(value).map(|p| format!("invalid label value: {p}"))
}

fn qualified_part(part: &str) -> Option<String> {
    let b = part.as_bytes();
    if b.len() > 63 {
        return Some(format!(
            "must be no more than 63 characters (is {})",
            b.len()
        ));
    }
    let ok = |c: u8| c.is_ascii_alphanumeric();
    if b.is_empty()
        || !ok(b[0])
        || !ok(b[b.len() - 1])
        || !b
            .iter()
            .all(|&c| ok(c) || c == b'-' || c == b'_' || c == b'.')
    {
        return Some(
            "must consist of alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric".to_owned(),
        );
    }
    None
}

/// A label or annotation key: an optional DNS-1123 subdomain prefix and `/`, then a name part.
pub fn qualified_name(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && let Some(problem) = dns1123_subdomain(prefix)
    {
        return Some(format!("invalid key prefix '{prefix}': {problem}"));
    }
    qualified_part(name).map(|p| format!("invalid key name '{name}': {p}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_by_kind() {
        assert_eq!(NameRule::for_kind("", "Namespace"), NameRule::Label);
        assert!(NameRule::Subdomain.check("web.example-1").is_none());
        assert!(NameRule::Subdomain.check("Web").is_some());
        assert!(NameRule::Subdomain.check("a..b").is_some());
        assert!(NameRule::Label.check("a.b").is_some());
        assert!(NameRule::Label.check(&"a".repeat(64)).is_some());
        assert!(NameRule::Dns1035Label.check("1web").is_some());
        assert!(NameRule::Dns1035Label.check("web-1").is_none());
        assert!(NameRule::PathSegment.check("system:controller:x").is_none());
        assert!(NameRule::PathSegment.check("a/b").is_some());
    }

    #[test]
    fn labels() {
        assert!(label_value("").is_none());
        assert!(label_value("v1.2_3").is_none());
        assert!(label_value("-x").is_some());
        assert!(qualified_name("app.kubernetes.io/name").is_none());
        assert!(qualified_name("Bad_Prefix/x").is_some());
        assert!(qualified_name("x/").is_some());
    }
}
