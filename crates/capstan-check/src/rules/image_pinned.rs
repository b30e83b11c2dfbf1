//! `image-pinned`: every container image names a tag other than `latest` (or a digest); with
//! `requireDigest: true` a digest is required.

use capstan_core::{Severity, Value};

use super::{Hit, Rule, RuleMeta, containers, each_object, pod_spec};
use crate::config::RuleConfig;
use crate::input::CheckInput;

pub struct ImagePinned;

static META: RuleMeta = RuleMeta {
    id: "image-pinned",
    severity: Severity::Error,
    summary: "Container images are pinned: a tag that is not `latest`, or a digest.",
    why: "An unpinned image changes under the cluster without a commit: a restart pulls something nobody \
          reviewed, and rolling back in Git does not roll back the image. A digest pins exactly.",
    example: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:latest\n",
    fix: "Use a version tag (`nginx:1.27.3`), best with its digest (`nginx:1.27.3@sha256:…`).",
    options: "`requireDigest: true` also flags images without a `@sha256:` digest.",
};

/// Why an image reference is not pinned, or `None`.
pub fn unpinned(image: &str, require_digest: bool) -> Option<String> {
    if image.contains("@sha256:") {
        return None;
    }
    // The tag is after the last ':' that comes after the last '/' (a ':' before it is a registry port).
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        None => Some(format!("image \"{image}\" has no tag (pulls latest)")),
        Some((_, "latest")) => Some(format!("image \"{image}\" uses the latest tag")),
        Some(_) if require_digest => Some(format!("image \"{image}\" has no digest")),
        Some(_) => None,
    }
}

impl Rule for ImagePinned {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, input: &CheckInput, config: &RuleConfig, out: &mut Vec<Hit>) {
        let require_digest = config.flag("requireDigest").unwrap_or(false);
        each_object(input, |u, o, _, rendered| {
            let Some((spec, base)) = pod_spec(&rendered.object) else {
                return;
            };
            for (container, path) in containers(spec, base) {
                let Some(image) = container.get("image").and_then(Value::as_str) else {
                    continue;
                };
                if let Some(problem) = unpinned(image, require_digest) {
                    out.push(Hit::object(u, o, problem).field(format!("{path}.image")));
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::unpinned;

    #[test]
    fn references() {
        assert!(unpinned("nginx", false).is_some());
        assert!(unpinned("nginx:latest", false).is_some());
        assert!(unpinned("registry:5000/nginx", false).is_some());
        assert!(unpinned("registry:5000/nginx:1.2", false).is_none());
        assert!(unpinned("ghcr.io/a/b:1.2@sha256:abc", true).is_none());
        assert!(unpinned("ghcr.io/a/b:1.2", true).is_some());
        assert!(unpinned("ghcr.io/a/b@sha256:abc", false).is_none());
    }
}
