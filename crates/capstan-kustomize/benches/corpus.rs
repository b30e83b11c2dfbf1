//! capstan's kustomize engine against `kubectl kustomize` over the real repositories in
//! `../shared/corpus` (not a timed test: a bench binary, `harness = false`).
//!
//!     cargo bench -p capstan-kustomize --bench corpus -- compare   # byte-for-byte vs the oracle
//!     cargo bench -p capstan-kustomize --bench corpus              # timings (buroa+k8s-gitops)
//!
//! `compare` builds every kustomization folder of the corpus (every repository in it) with both
//! and fails when capstan's output differs from kubectl's, or when exactly one of them fails; it
//! prints the counts per repository. The timing run reports, over
//! every kustomization folder of `buroa+k8s-gitops`: one process per folder (capstan's release
//! binary vs kubectl, and their ratio), one process for all folders (capstan in-process builds vs
//! merely reading and parsing every YAML file those builds load), and peak RSS.
//!
//! The corpus is found at `$CAPSTAN_SHARED/corpus`, `<workspace>/../shared/corpus` or
//! `/work/shared/corpus`; kubectl on `PATH`, under `$CAPSTAN_ORACLES/bin` or
//! `~/.cache/capstan-oracles/bin` (installed by `../shared/tools/install-oracles.sh` when missing).
//! Without them the binary says so and exits successfully.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use capstan_core::{Fs, OsFs};
use capstan_kustomize::{Options, build, render};

fn shared_dir() -> Option<PathBuf> {
    capstan_testkit::shared()
}

fn find_tool(name: &str, shared: &Path) -> Option<PathBuf> {
    if let Some(found) = capstan_testkit::oracle::find(name) {
        return Some(found);
    }
    let script = shared.join("tools/install-oracles.sh");
    let out = Command::new("bash").arg(&script).output().ok()?;
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    Some(dir.join("bin").join(name)).filter(|p| p.is_file())
}

/// Every directory under `root` holding a kustomization file, sorted.
fn kustomization_dirs(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = OsFs.read_dir(&dir) else {
            continue;
        };
        let mut has_kustomization = false;
        for entry in entries {
            if entry.is_dir() {
                if entry.file_name().is_some_and(|n| n != ".git") {
                    stack.push(entry);
                }
            } else if entry.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                matches!(
                    n,
                    "kustomization.yaml" | "kustomization.yml" | "Kustomization"
                )
            }) {
                has_kustomization = true;
            }
        }
        if has_kustomization {
            out.push(dir);
        }
    }
    out.sort();
    out
}

fn kubectl_kustomize(kubectl: &Path, dir: &Path) -> io::Result<Result<String, String>> {
    let out = Command::new(kubectl).arg("kustomize").arg(dir).output()?;
    Ok(if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    })
}

fn capstan_kustomize(dir: &Path) -> Result<String, String> {
    build(&OsFs, dir, &Options::default())
        .map(|m| render(&m))
        .map_err(|e| e.to_string())
}

fn compare(corpus: &Path, kubectl: &Path) -> ExitCode {
    let dirs = kustomization_dirs(corpus);
    let (mut same, mut both_fail, mut bad) = (0, 0, Vec::new());
    // Per corpus repository: folders, byte-identical, failing in both.
    let mut per_repo: std::collections::BTreeMap<String, (usize, usize, usize)> =
        std::collections::BTreeMap::new();
    for dir in &dirs {
        let oracle = match kubectl_kustomize(kubectl, dir) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("cannot run kubectl: {e}");
                return ExitCode::from(2);
            }
        };
        let ours = capstan_kustomize(dir);
        let rel = dir
            .strip_prefix(corpus)
            .unwrap_or(dir)
            .display()
            .to_string();
        let repo = rel.split('/').next().unwrap_or_default().to_owned();
        let counts = per_repo.entry(repo).or_default();
        counts.0 += 1;
        match (oracle, ours) {
            (Ok(a), Ok(b)) if a == b => {
                same += 1;
                counts.1 += 1;
            }
            (Err(_), Err(_)) => {
                both_fail += 1;
                counts.2 += 1;
            }
            (Ok(a), Ok(b)) => {
                let first = a
                    .lines()
                    .zip(b.lines())
                    .position(|(x, y)| x != y)
                    .unwrap_or(a.lines().count().min(b.lines().count()));
                bad.push(format!("{rel}: output differs from line {}", first + 1));
            }
            (Ok(_), Err(e)) => bad.push(format!("{rel}: kubectl builds it, capstan fails: {e}")),
            (Err(e), Ok(_)) => bad.push(format!(
                "{rel}: kubectl fails ({}), capstan builds it",
                e.trim()
            )),
        }
    }
    for line in &bad {
        println!("MISMATCH {line}");
    }
    for (repo, (folders, identical, failing)) in &per_repo {
        println!(
            "{repo}: {folders} folders, {identical} byte-identical, {failing} failing in both, {} mismatches",
            folders - identical - failing
        );
    }
    println!(
        "kustomize corpus: {} folders, {same} byte-identical, {both_fail} failing in both, {} mismatches",
        dirs.len(),
        bad.len()
    );
    if bad.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// An `Fs` that remembers which files were read.
struct RecordingFs {
    read: Mutex<Vec<PathBuf>>,
}

impl Fs for RecordingFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        if let Ok(mut read) = self.read.lock() {
            read.push(path.to_path_buf());
        }
        OsFs.read(path)
    }
    fn is_dir(&self, path: &Path) -> bool {
        OsFs.is_dir(path)
    }
    fn is_file(&self, path: &Path) -> bool {
        OsFs.is_file(path)
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        OsFs.read_dir(path)
    }
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        OsFs.canonicalize(path)
    }
}

fn time_processes(program: &Path, args_before: &[&str], dirs: &[PathBuf]) -> (Duration, u64) {
    let mut total = Duration::ZERO;
    let mut peak_kib = 0u64;
    for dir in dirs {
        let start = Instant::now();
        let out = Command::new("/usr/bin/time")
            .arg("-f")
            .arg("%M")
            .arg(program)
            .args(args_before)
            .arg(dir)
            .output();
        total += start.elapsed();
        if let Ok(out) = out {
            let err = String::from_utf8_lossy(&out.stderr);
            if let Some(kib) = err.lines().rev().find_map(|l| l.trim().parse::<u64>().ok()) {
                peak_kib = peak_kib.max(kib);
            }
        }
    }
    (total, peak_kib)
}

fn own_peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn bench(corpus: &Path, kubectl: &Path) -> ExitCode {
    let repo = corpus.join("buroa+k8s-gitops");
    let dirs: Vec<PathBuf> = kustomization_dirs(&repo)
        .into_iter()
        .filter(|d| capstan_kustomize(d).is_ok())
        .collect();
    println!(
        "buroa+k8s-gitops: {} kustomization folders that build",
        dirs.len()
    );

    // One process per folder.
    let capstan_bin = std::env::var_os("CAPSTAN_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/capstan")
        });
    if capstan_bin.is_file() {
        let (ours, our_rss) = time_processes(&capstan_bin, &["kustomize"], &dirs);
        let (theirs, their_rss) = time_processes(kubectl, &["kustomize"], &dirs);
        println!(
            "one process per folder: capstan {:.3}s, kubectl {:.3}s, capstan is {:.1}x faster; peak RSS capstan {} KiB, kubectl {} KiB",
            ours.as_secs_f64(),
            theirs.as_secs_f64(),
            theirs.as_secs_f64() / ours.as_secs_f64().max(1e-9),
            our_rss,
            their_rss
        );
    } else {
        println!(
            "one process per folder: skipped ({} not built; cargo build --release -p capstan)",
            capstan_bin.display()
        );
    }

    // One process, all folders: builds vs reading and parsing what they read.
    let recorder = RecordingFs {
        read: Mutex::new(Vec::new()),
    };
    for dir in &dirs {
        let _ = build(&recorder, dir, &Options::default());
    }
    let mut files = recorder.read.into_inner().unwrap_or_default();
    files.sort();
    files.dedup();
    let rounds = 5;
    let start = Instant::now();
    for _ in 0..rounds {
        for dir in &dirs {
            let _ = build(&OsFs, dir, &Options::default()).map(|m| render(&m));
        }
    }
    let builds = start.elapsed() / rounds;
    let start = Instant::now();
    for _ in 0..rounds {
        for file in &files {
            if let Ok(text) = OsFs.read_to_string(file) {
                let _ = capstan_core::yaml::parse_documents(&text);
            }
        }
    }
    let parse_only = start.elapsed() / rounds;
    println!(
        "one process, all folders: build+render {:.2} ms, read+parse of the {} files they load {:.2} ms, ratio {:.2}x; peak RSS {} KiB",
        builds.as_secs_f64() * 1e3,
        files.len(),
        parse_only.as_secs_f64() * 1e3,
        builds.as_secs_f64() / parse_only.as_secs_f64().max(1e-9),
        own_peak_rss_kib()
    );
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let Some(shared) = shared_dir() else {
        println!(
            "corpus not found (set CAPSTAN_SHARED or place ../shared beside the workspace): skipping"
        );
        return ExitCode::SUCCESS;
    };
    let Some(kubectl) = find_tool("kubectl", &shared) else {
        println!("kubectl oracle not found (../shared/tools/install-oracles.sh): skipping");
        return ExitCode::SUCCESS;
    };
    let corpus = shared.join("corpus");
    if std::env::args().any(|a| a == "compare") {
        compare(&corpus, &kubectl)
    } else {
        bench(&corpus, &kubectl)
    }
}
