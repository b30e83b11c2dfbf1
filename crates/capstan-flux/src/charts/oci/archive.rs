//! A pulled chart layer checked for what it claims to be: a gzip-compressed tar holding one
//! chart directory with a `Chart.yaml`, read for the chart's name and version. Decompression is
//! bounded (Helm's own 100 MiB limit) so a gzip bomb is an error, not an exhausted machine.

use std::io::Read;

use capstan_core::Value;

/// The most decompressed bytes read from an archive.
const MAX_UNPACKED: u64 = 100 << 20;

/// `Chart.yaml`'s `name` and `version` from a chart archive, or why it is not one.
pub fn chart_metadata(archive: &[u8]) -> Result<(String, String), String> {
    let gz = flate2::read::GzDecoder::new(archive).take(MAX_UNPACKED);
    let mut tar = tar::Archive::new(gz);
    let entries = tar
        .entries()
        .map_err(|e| format!("not a gzip-compressed tar archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("not a gzip-compressed tar archive: {e}"))?;
        let path = entry
            .path()
            .map_err(|e| format!("an entry has an invalid path: {e}"))?
            .into_owned();
        let parts: Vec<_> = path.components().collect();
        if parts.len() != 2 || path.file_name().is_none_or(|n| n != "Chart.yaml") {
            continue;
        }
        let mut text = String::new();
        entry
            .read_to_string(&mut text)
            .map_err(|e| format!("{} could not be read: {e}", path.display()))?;
        let chart = capstan_core::yaml::parse_document(&text)
            .map_err(|e| format!("{} is not valid YAML: {e}", path.display()))?;
        let field = |k: &str| match chart.get(k) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(format!("{} has no {k}", path.display())),
        };
        return Ok((field("name")?, field("version")?));
    }
    Err("holds no <chart>/Chart.yaml".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn chart_tgz(files: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::default(),
        ));
        for (path, body) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, path, body.as_bytes())
                .unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn reads_name_and_version() {
        let tgz = chart_tgz(&[
            ("demo/values.yaml", "a: 1"),
            ("demo/charts/sub/Chart.yaml", "name: sub\nversion: 9.9.9"),
            (
                "demo/Chart.yaml",
                "apiVersion: v2\nname: demo\nversion: 1.2.3",
            ),
        ]);
        assert_eq!(
            chart_metadata(&tgz).unwrap(),
            ("demo".into(), "1.2.3".into())
        );
    }

    #[test]
    fn corrupt_archives() {
        for (bytes, needle) in [
            (b"not gzip at all".to_vec(), "gzip"),
            (
                chart_tgz(&[("demo/values.yaml", "a: 1")]),
                "no <chart>/Chart.yaml",
            ),
            (
                chart_tgz(&[("demo/Chart.yaml", "name: [")]),
                "not valid YAML",
            ),
            (
                chart_tgz(&[("demo/Chart.yaml", "name: demo")]),
                "has no version",
            ),
        ] {
            let err = chart_metadata(&bytes).unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
        let mut truncated = chart_tgz(&[("demo/Chart.yaml", "name: d\nversion: 1.0.0")]);
        truncated.truncate(truncated.len() / 2);
        assert!(chart_metadata(&truncated).is_err());
    }
}
