//! `--var KEY=VALUE` and `--vars-file FILE`: post-build substitution variables the user supplies
//! for what the repository cannot tell (a variable no `substitute`/`substituteFrom` defines, or one
//! an object that exists only at runtime holds). The repository's own values win; `--var` wins
//! over the file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use capstan_core::Value;
use clap::Args;

/// The flags.
#[derive(Debug, Args, Default)]
pub struct VarArgs {
    /// A substitution variable for what the repository cannot tell (repeatable): it fills a
    /// `${KEY}` that no substitute/substituteFrom defines or that an object existing only at
    /// runtime holds; the repository's own values win.
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub vars: Vec<String>,
    /// A YAML file mapping variable names to values, read as `--var` (which wins over it).
    #[arg(long, value_name = "FILE")]
    pub vars_file: Option<PathBuf>,
}

impl VarArgs {
    /// Discovery options carrying the variables and the local `sources` (what every offline
    /// command that discovers or builds passes on).
    pub fn discovery(
        &self,
        sources: capstan_flux::source::LocalSources,
    ) -> anyhow::Result<capstan_flux::discovery::Options> {
        Ok(capstan_flux::discovery::Options {
            vars: self.resolve()?,
            sources,
            ..capstan_flux::discovery::Options::default()
        })
    }

    /// The variables, file first, then each `--var`.
    pub fn resolve(&self) -> anyhow::Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        if let Some(file) = &self.vars_file {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("{}: cannot read", file.display()))?;
            out.extend(parse_file(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?);
        }
        for var in &self.vars {
            let (key, value) = parse_var(var)?;
            out.insert(key, value);
        }
        Ok(out)
    }
}

fn parse_var(text: &str) -> anyhow::Result<(String, String)> {
    match text.split_once('=') {
        Some((key, value)) if capstan_flux::substitute::is_valid_name(key) => {
            Ok((key.to_owned(), value.to_owned()))
        }
        Some((key, _)) => anyhow::bail!(
            "--var {text}: {key:?} is not a variable name (letters, digits and _, not starting with a digit)"
        ),
        None => anyhow::bail!("--var {text}: expected KEY=VALUE"),
    }
}

/// A vars file: one YAML mapping of names to scalars (numbers and booleans as written).
fn parse_file(text: &str) -> Result<BTreeMap<String, String>, String> {
    let value = capstan_core::yaml::parse_document(text).map_err(|e| e.to_string())?;
    let map = match value {
        Value::Null => return Ok(BTreeMap::new()),
        Value::Object(map) => map,
        _ => return Err("expected a mapping of variable names to values".to_owned()),
    };
    let mut out = BTreeMap::new();
    for (key, value) in map {
        if !capstan_flux::substitute::is_valid_name(&key) {
            return Err(format!("{key}: not a variable name"));
        }
        let text = match value {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                return Err(format!(
                    "{key}: the value must be a string, number or boolean"
                ));
            }
        };
        out.insert(key, text);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vars_and_files() {
        assert_eq!(
            parse_var("REGION=eu=1").unwrap(),
            ("REGION".to_owned(), "eu=1".to_owned())
        );
        assert!(parse_var("REGION").is_err());
        assert!(parse_var("1X=a").is_err());
        let file = parse_file("REGION: eu\nREPLICAS: 3\nDEBUG: true\n").unwrap();
        assert_eq!(file["REPLICAS"], "3");
        assert_eq!(file["DEBUG"], "true");
        assert!(parse_file("- a\n").is_err());
        assert!(parse_file("a-b: 1\n").unwrap_err().contains("a-b"));
    }
}
