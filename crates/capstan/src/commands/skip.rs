//! `--skip-secrets`, `--skip-crds`, `--skip-kinds` on `build` and `diff`: flux-local's flags for
//! leaving kinds out of what is printed. capstan keeps every kind by default (Flux applies them
//! all); these give flux-local's smaller output. Nothing is left out of rendering or of the
//! exit code's reasons, only of what is shown.

use clap::Args;

#[derive(Debug, Clone, Default, Args)]
pub struct SkipArgs {
    /// Leave Secrets out of the output.
    #[arg(long)]
    pub skip_secrets: bool,
    /// Leave CustomResourceDefinitions out of the output.
    #[arg(long)]
    pub skip_crds: bool,
    /// Leave these kinds out of the output (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "KIND,...")]
    pub skip_kinds: Vec<String>,
}

impl SkipArgs {
    /// True when objects of `kind` are shown.
    pub fn keeps(&self, kind: &str) -> bool {
        !(self.skip_secrets && kind == "Secret"
            || self.skip_crds && kind == "CustomResourceDefinition"
            || self.skip_kinds.iter().any(|k| k == kind))
    }

    pub fn is_empty(&self) -> bool {
        !self.skip_secrets && !self.skip_crds && self.skip_kinds.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_what_is_named() {
        let skip = SkipArgs {
            skip_secrets: true,
            skip_crds: false,
            skip_kinds: vec!["ConfigMap".into()],
        };
        assert!(!skip.keeps("Secret") && !skip.keeps("ConfigMap"));
        assert!(skip.keeps("CustomResourceDefinition") && skip.keeps("Deployment"));
        assert!(SkipArgs::default().is_empty());
    }
}
