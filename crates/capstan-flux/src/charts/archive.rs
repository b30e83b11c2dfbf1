//! A packaged chart (`.tgz`) unpacked into memory, as Helm's loader reads it: the first path
//! component of every entry is the chart's directory and is replaced by the chart's name. A
//! hostile archive is refused rather than followed: absolute paths, `..`, symbolic and hard
//! links, more than [`MAX_ENTRIES`] entries or [`MAX_UNPACKED_BYTES`] unpacked. `Chart.yaml`
//! must be there and, when the caller expects a chart and version, name them.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use capstan_core::{MemFs, Value};

/// At most this many entries in one archive.
pub const MAX_ENTRIES: usize = 20_000;
/// At most this many bytes unpacked from one archive.
pub const MAX_UNPACKED_BYTES: u64 = 200 * 1024 * 1024;
/// At most this many bytes decompressed from one archive: the files plus room for headers and
/// the entries that are skipped (directories, PAX/GNU records, top-level files). Without it a
/// gzip bomb in a skipped entry would cost unbounded time, and one in a GNU long-name record
/// (which `tar` reads whole into memory) unbounded memory.
pub const MAX_DECOMPRESSED_BYTES: u64 = MAX_UNPACKED_BYTES + 64 * 1024 * 1024;

/// A reader that fails, rather than ends, past `left` bytes (`Read::take` would end quietly and
/// the archive would read as truncated).
struct Bounded<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            // One byte more tells a stream that is exactly at the bound from one past it.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(std::io::Error::other(format!(
                    "decompresses to more than {} bytes",
                    self.limit
                ))),
            };
        }
        let room = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let read = self.inner.read(&mut buf[..room])?;
        self.left -= read as u64;
        Ok(read)
    }
}

/// A chart unpacked into `fs` under `dir`, with the name and version its `Chart.yaml` gives.
#[derive(Debug)]
pub struct Unpacked {
    pub fs: MemFs,
    pub dir: PathBuf,
    pub name: String,
    pub version: String,
}

/// Unpacks `archive` under the directory `dir_name`, checking `Chart.yaml` against `expect`
/// (name, version) when given; errors are plain messages the caller wraps with chart, version
/// and URL.
pub fn unpack(
    archive: &[u8],
    dir_name: &str,
    expect: Option<(&str, &str)>,
) -> Result<Unpacked, String> {
    unpack_bounded(archive, dir_name, expect, MAX_DECOMPRESSED_BYTES)
}

fn unpack_bounded(
    archive: &[u8],
    dir_name: &str,
    expect: Option<(&str, &str)>,
    limit: u64,
) -> Result<Unpacked, String> {
    let fs = MemFs::new();
    let dir = PathBuf::from(dir_name);
    let gzip = Bounded {
        inner: flate2::read::GzDecoder::new(archive),
        left: limit,
        limit,
    };
    let mut tar = tar::Archive::new(gzip);
    let entries = tar
        .entries()
        .map_err(|e| format!("not a gzip-compressed tar archive: {e}"))?;
    let mut count = 0usize;
    let mut total = 0u64;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("corrupt archive: {e}"))?;
        count += 1;
        if count > MAX_ENTRIES {
            return Err(format!("more than {MAX_ENTRIES} entries"));
        }
        let path = entry
            .path()
            .map_err(|e| format!("corrupt entry name: {e}"))?
            .into_owned();
        let shown = path.display().to_string();
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            return Err(format!("{shown}: links are not allowed in a chart"));
        }
        let mut parts = Vec::new();
        for component in path.components() {
            match component {
                Component::Normal(part) => parts.push(part.to_owned()),
                Component::CurDir => {}
                Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                    return Err(format!("{shown}: path escapes the chart"));
                }
            }
        }
        if kind.is_dir() || parts.len() < 2 {
            // Directories are implied by files; a file at the top level is not part of a chart.
            continue;
        }
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            // PAX/GNU metadata is consumed by `tar`; devices and FIFOs have no place in a chart.
            if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
                return Err(format!("{shown}: special files are not allowed in a chart"));
            }
            continue;
        }
        let remaining = MAX_UNPACKED_BYTES.saturating_sub(total);
        let mut contents = Vec::new();
        (&mut entry)
            .take(remaining + 1)
            .read_to_end(&mut contents)
            .map_err(|e| format!("{shown}: corrupt archive: {e}"))?;
        total += contents.len() as u64;
        if total > MAX_UNPACKED_BYTES {
            return Err(format!("unpacks to more than {MAX_UNPACKED_BYTES} bytes"));
        }
        let mut target = dir.clone();
        target.extend(&parts[1..]);
        fs.add_file(&target, contents);
    }
    let (name, version) = metadata(&fs, &dir)?;
    if let Some((chart, wanted)) = expect {
        if name != chart {
            return Err(format!(
                "Chart.yaml names chart {name:?}, expected {chart:?}"
            ));
        }
        // A `v` prefix on either side is ignored.
        if version.trim_start_matches('v') != wanted.trim_start_matches('v') {
            return Err(format!(
                "Chart.yaml has version {version:?}, expected {wanted:?}"
            ));
        }
    }
    Ok(Unpacked {
        fs,
        dir,
        name,
        version,
    })
}

/// The name and version `Chart.yaml` gives.
fn metadata(fs: &MemFs, dir: &Path) -> Result<(String, String), String> {
    use capstan_core::Fs;
    let file = dir.join("Chart.yaml");
    let text = fs
        .read_to_string(&file)
        .map_err(|_| "no Chart.yaml in the archive".to_owned())?;
    let metadata = capstan_core::yaml::parse_documents(&text)
        .map_err(|e| format!("Chart.yaml does not parse: {e}"))?
        .into_iter()
        .next()
        .unwrap_or(Value::Null);
    let field = |name: &str| match metadata.get(name) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let name = field("name");
    if name.is_empty() {
        return Err("Chart.yaml has no name".into());
    }
    Ok((name, field("version")))
}

#[cfg(test)]
pub(crate) mod tests {
    use capstan_core::Fs;

    use super::*;

    /// A `.tgz` of `(path, contents)` entries (regular files).
    pub(crate) fn tgz(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, contents) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(contents.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            // Written raw so tests can build hostile names `tar` itself would refuse.
            let name: &mut [u8] = &mut header.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_cksum();
            builder.append(&header, *contents).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    fn chart_yaml(name: &str, version: &str) -> Vec<u8> {
        format!("apiVersion: v2\nname: {name}\nversion: {version}\n").into_bytes()
    }

    #[test]
    fn unpacks_under_the_chart_name() {
        let archive = tgz(&[
            ("web/Chart.yaml", &chart_yaml("web", "1.2.3")),
            ("web/templates/cm.yaml", b"kind: ConfigMap"),
            ("web/charts/sub-0.1.0.tgz", b"\x1f\x8b"),
        ]);
        let unpacked = unpack(&archive, "web", Some(("web", "1.2.3"))).unwrap();
        assert_eq!(unpacked.dir, PathBuf::from("web"));
        assert_eq!(
            unpacked
                .fs
                .read(Path::new("web/templates/cm.yaml"))
                .unwrap(),
            b"kind: ConfigMap"
        );
        assert!(unpacked.fs.is_file(Path::new("web/charts/sub-0.1.0.tgz")));
    }

    #[test]
    fn refuses_hostile_and_broken_archives() {
        let ok = chart_yaml("web", "1.0.0");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"not an archive at all".to_vec(), "gzip"),
            (
                tgz(&[("web/Chart.yaml", &ok), ("web/../../etc/passwd", b"x")]),
                "escapes",
            ),
            (tgz(&[("/web/Chart.yaml", &ok)]), "escapes"),
            (tgz(&[("web/values.yaml", b"a: 1")]), "no Chart.yaml"),
            (
                tgz(&[("web/Chart.yaml", &chart_yaml("other", "1.0.0"))]),
                "expected \"web\"",
            ),
            (
                tgz(&[("web/Chart.yaml", &chart_yaml("web", "2.0.0"))]),
                "expected \"1.0.0\"",
            ),
        ];
        for (archive, wanted) in cases {
            let err = unpack(&archive, "web", Some(("web", "1.0.0"))).unwrap_err();
            assert!(err.contains(wanted), "{err} (wanted {wanted})");
        }
        // Truncated gzip stream.
        let whole = tgz(&[("web/Chart.yaml", &ok), ("web/big", &[b'x'; 40_000])]);
        let err = unpack(&whole[..whole.len() / 2], "web", None).unwrap_err();
        assert!(err.contains("corrupt"), "{err}");
    }

    #[test]
    fn refuses_links() {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        builder
            .append_link(&mut header, "web/templates/x.yaml", "/etc/passwd")
            .unwrap();
        let archive = builder.into_inner().unwrap().finish().unwrap();
        let err = unpack(&archive, "web", Some(("web", "1.0.0"))).unwrap_err();
        assert!(err.contains("links are not allowed"), "{err}");
    }

    #[test]
    fn decompression_is_bounded_even_in_skipped_and_metadata_entries() {
        // A GNU long-name record is read whole into memory by `tar`, and a directory's or a
        // top-level file's data is skipped by decompressing it: both count against the bound.
        let bomb = |kind: tar::EntryType, name: &str| {
            let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::fast(),
            ));
            let zeros = vec![0u8; 2 << 20];
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(kind);
            header.set_size(zeros.len() as u64);
            header.set_path(name).unwrap();
            header.set_cksum();
            builder.append(&header, zeros.as_slice()).unwrap();
            builder.into_inner().unwrap().finish().unwrap()
        };
        for archive in [
            bomb(tar::EntryType::GNULongName, "././@LongLink"),
            bomb(tar::EntryType::Directory, "web/d/"),
            bomb(tar::EntryType::Regular, "top-level-file"),
        ] {
            let err = unpack_bounded(&archive, "web", None, 1 << 20).unwrap_err();
            assert!(
                err.contains("decompresses to more than 1048576 bytes"),
                "{err}"
            );
        }
        // A chart that decompresses to exactly the bound is fine.
        let small = tgz(&[(
            "web/Chart.yaml",
            b"apiVersion: v2\nname: web\nversion: 1.0.0\n",
        )]);
        let mut decompressed = Vec::new();
        flate2::read::GzDecoder::new(small.as_slice())
            .read_to_end(&mut decompressed)
            .unwrap();
        let whole = decompressed.len() as u64;
        assert!(unpack_bounded(&small, "web", None, whole).is_ok());
    }

    #[test]
    fn refuses_too_many_entries() {
        let names: Vec<String> = (0..=MAX_ENTRIES).map(|i| format!("web/f{i}")).collect();
        let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
        let err = unpack(&tgz(&files), "web", None).unwrap_err();
        assert!(err.contains("more than"), "{err}");
    }
}
