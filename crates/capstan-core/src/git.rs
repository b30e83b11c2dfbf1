//! A read-only [`Fs`] over one git revision, read straight from the object database: no
//! checkout, no worktree, nothing written to the repository.
//!
//! The tree is listed once with `git ls-tree -r -z` (path, mode and blob id of every file), and
//! blobs are read on demand through one long-lived `git cat-file --batch` process shared behind a
//! mutex. Talking to the `git` binary rather than linking a git library keeps `capstan-core`'s
//! build light and reads every repository layout git itself reads (packs, alternates, worktrees,
//! partial clones with a promisor); the cost is one process start per tree plus a pipe round-trip
//! per file read, which `benches`-style measurement puts far below rendering time.
//!
//! Paths: the tree is mounted at the repository's top-level directory, so an absolute path that
//! would name a file in the working tree names the same file in the revision; relative paths are
//! taken relative to the top level. Symbolic links stored in the tree are followed lexically.
//!
//! Revision helpers live here too: [`resolve_revision`], [`default_base`] (the merge-base with
//! the branch's upstream, else `HEAD`) and [`toplevel`].

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;

use crate::fs::{Fs, normalize};

/// How many symbolic links one lookup may follow before it is called a loop.
const MAX_SYMLINK_HOPS: usize = 40;

/// Something went wrong talking to git.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git in {dir}: {source}")]
    Spawn {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("git {args} in {dir} failed: {stderr}")]
    Failed {
        dir: PathBuf,
        args: String,
        stderr: String,
    },
    #[error("unexpected output from git {args}: {detail}")]
    Output { args: String, detail: String },
}

/// Runs `git -C dir args...` and returns its stdout.
fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, GitError> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| GitError::Spawn {
            dir: dir.to_path_buf(),
            source,
        })?;
    if !output.status.success() {
        return Err(GitError::Failed {
            dir: dir.to_path_buf(),
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(output.stdout)
}

fn git_line(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    let out = git(dir, args)?;
    Ok(String::from_utf8_lossy(&out).trim().to_owned())
}

/// The top-level directory of the working tree that contains `dir`, as an absolute path.
pub fn toplevel(dir: &Path) -> Result<PathBuf, GitError> {
    Ok(PathBuf::from(git_line(
        dir,
        &["rev-parse", "--show-toplevel"],
    )?))
}

/// The full commit id a revision names (`main`, `HEAD~2`, a tag, a short id...).
pub fn resolve_revision(dir: &Path, revision: &str) -> Result<String, GitError> {
    if revision.starts_with('-') {
        return Err(GitError::Failed {
            dir: dir.to_path_buf(),
            args: format!("rev-parse {revision}"),
            stderr: "a revision cannot start with '-'".into(),
        });
    }
    git_line(
        dir,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &format!("{revision}^{{commit}}"),
        ],
    )
    .map_err(|_| GitError::Failed {
        dir: dir.to_path_buf(),
        args: format!("rev-parse {revision}"),
        stderr: format!("unknown revision {revision:?}"),
    })
}

/// The revision a change is compared against when none is given: the merge-base of `HEAD` with
/// the current branch's upstream when there is one, else `HEAD` itself. Returns the commit id and
/// a description of how it was chosen.
pub fn default_base(dir: &Path) -> Result<(String, String), GitError> {
    if let Ok(upstream) = git_line(
        dir,
        &[
            "rev-parse",
            "--abbrev-ref",
            "--symbolic-full-name",
            "@{upstream}",
        ],
    ) && !upstream.is_empty()
        && let Ok(base) = git_line(dir, &["merge-base", "HEAD", "@{upstream}"])
        && !base.is_empty()
    {
        return Ok((base, format!("merge-base of HEAD and {upstream}")));
    }
    Ok((resolve_revision(dir, "HEAD")?, "HEAD".to_owned()))
}

/// One entry of the listed tree.
#[derive(Debug, Clone)]
struct Entry {
    oid: String,
    symlink: bool,
}

/// The reading end of `git cat-file --batch`.
struct CatFile {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl CatFile {
    fn start(dir: &Path) -> Result<CatFile, GitError> {
        let mut child = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| GitError::Spawn {
                dir: dir.to_path_buf(),
                source,
            })?;
        let stdin = child.stdin.take().expect("stdin was piped");
        let stdout = BufReader::new(child.stdout.take().expect("stdout was piped"));
        Ok(CatFile {
            child,
            stdin,
            stdout,
        })
    }

    fn blob(&mut self, oid: &str) -> io::Result<Vec<u8>> {
        writeln!(self.stdin, "{oid}")?;
        self.stdin.flush()?;
        let mut header = String::new();
        self.stdout.read_line(&mut header)?;
        let mut fields = header.split_whitespace();
        let (_, kind, size) = (fields.next(), fields.next(), fields.next());
        if kind != Some("blob") {
            return Err(io::Error::other(format!(
                "git cat-file: {oid}: {}",
                header.trim()
            )));
        }
        let size: usize = size.and_then(|s| s.parse().ok()).ok_or_else(|| {
            io::Error::other(format!("git cat-file: bad header {:?}", header.trim()))
        })?;
        let mut data = vec![0; size + 1];
        self.stdout.read_exact(&mut data)?;
        data.pop(); // the newline after the contents
        Ok(data)
    }
}

impl Drop for CatFile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How a working-tree file differs from a revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorktreeChange {
    Added,
    Deleted,
    Modified,
}

/// The files of the working tree at `mount` (the top level) git does not ignore, tracked or not,
/// relative to the top level (`git ls-files --cached --others --exclude-standard`).
pub fn worktree_files(mount: &Path) -> Result<Vec<PathBuf>, GitError> {
    let listing = git(
        mount,
        &[
            "ls-files",
            "--cached",
            "--others",
            "--exclude-standard",
            "--full-name",
            "-z",
        ],
    )?;
    let mut out: Vec<PathBuf> = listing
        .split(|b| *b == 0)
        .filter(|f| !f.is_empty())
        .map(|path| PathBuf::from(String::from_utf8_lossy(path).as_ref()))
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// The files of the working tree at `mount` (the top level) that differ from `commit`, relative
/// to the top level: tracked files modified, deleted or staged (`git diff <commit>`), and
/// untracked files git does not ignore (`git ls-files --others --exclude-standard`).
pub fn worktree_changes(
    mount: &Path,
    commit: &str,
) -> Result<Vec<(PathBuf, WorktreeChange)>, GitError> {
    let diff = git(
        mount,
        &[
            "diff",
            "--no-renames",
            "--no-ext-diff",
            "--name-status",
            "-z",
            commit,
            "--",
        ],
    )?;
    let mut out = Vec::new();
    let mut fields = diff.split(|b| *b == 0).filter(|f| !f.is_empty());
    while let Some(status) = fields.next() {
        let Some(path) = fields.next() else {
            return Err(GitError::Output {
                args: "diff --name-status".into(),
                detail: String::from_utf8_lossy(status).into_owned(),
            });
        };
        let change = match status.first() {
            Some(b'A') => WorktreeChange::Added,
            Some(b'D') => WorktreeChange::Deleted,
            _ => WorktreeChange::Modified,
        };
        out.push((
            PathBuf::from(String::from_utf8_lossy(path).as_ref()),
            change,
        ));
    }
    let untracked = git(
        mount,
        &[
            "ls-files",
            "--others",
            "--exclude-standard",
            "--full-name",
            "-z",
        ],
    )?;
    for path in untracked.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        out.push((
            PathBuf::from(String::from_utf8_lossy(path).as_ref()),
            WorktreeChange::Added,
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.dedup_by(|a, b| a.0 == b.0);
    Ok(out)
}

/// A read-only tree of files at one git revision.
pub struct GitTreeFs {
    /// Where the tree is mounted: the repository's top-level directory.
    mount: PathBuf,
    /// The commit the tree belongs to.
    commit: String,
    files: BTreeMap<PathBuf, Entry>,
    dirs: BTreeSet<PathBuf>,
    reader: Mutex<Option<CatFile>>,
    /// Set by [`GitTreeFs::read_unchanged_from_worktree`]: the files that differ in the working
    /// tree; every other regular file is read from the working tree.
    worktree_changed: Option<BTreeSet<PathBuf>>,
}

impl std::fmt::Debug for GitTreeFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitTreeFs")
            .field("mount", &self.mount)
            .field("commit", &self.commit)
            .field("files", &self.files.len())
            .finish()
    }
}

impl GitTreeFs {
    /// Opens `revision` of the repository that contains `dir`.
    pub fn open(dir: &Path, revision: &str) -> Result<GitTreeFs, GitError> {
        let mount = toplevel(dir)?;
        let commit = resolve_revision(&mount, revision)?;
        GitTreeFs::open_commit(mount, commit)
    }

    /// Opens `commit` (a full commit id, see [`resolve_revision`]) of the repository whose top
    /// level is `mount` (see [`toplevel`]).
    pub fn open_commit(mount: PathBuf, commit: String) -> Result<GitTreeFs, GitError> {
        let listing = git(&mount, &["ls-tree", "-r", "-z", "--full-tree", &commit])?;
        let mut files = BTreeMap::new();
        let mut dirs = BTreeSet::new();
        dirs.insert(PathBuf::new());
        for record in listing.split(|b| *b == 0).filter(|r| !r.is_empty()) {
            let record = String::from_utf8_lossy(record);
            let parsed = record.split_once('\t').and_then(|(meta, path)| {
                let mut meta = meta.split(' ');
                Some((meta.next()?, meta.next()?, meta.next()?, path))
            });
            let Some((mode, kind, oid, path)) = parsed else {
                return Err(GitError::Output {
                    args: "ls-tree".into(),
                    detail: record.into_owned(),
                });
            };
            if kind != "blob" {
                continue; // submodules have no content in this tree
            }
            let path = PathBuf::from(path);
            let mut parent = path.parent();
            while let Some(dir) = parent {
                if !dirs.insert(dir.to_path_buf()) {
                    break;
                }
                parent = dir.parent();
            }
            files.insert(
                path,
                Entry {
                    oid: oid.to_owned(),
                    symlink: mode == "120000",
                },
            );
        }
        Ok(GitTreeFs {
            mount,
            commit,
            files,
            dirs,
            reader: Mutex::new(None),
            worktree_changed: None,
        })
    }

    /// Reads the files git reports unchanged (see [`worktree_changes`]) from the working tree
    /// instead of the object database: their contents are the same, and a file read costs no
    /// pipe round-trip. `changed` holds the paths that differ, relative to the top level. The
    /// tree's listing still decides what exists. A file the working tree cannot read is read
    /// from the object database.
    pub fn read_unchanged_from_worktree(&mut self, changed: impl IntoIterator<Item = PathBuf>) {
        self.worktree_changed = Some(changed.into_iter().collect());
    }

    /// The commit id this tree was read from.
    pub fn commit(&self) -> &str {
        &self.commit
    }

    /// The directory the tree is mounted at (the repository's top level).
    pub fn mount(&self) -> &Path {
        &self.mount
    }

    /// The paths of all files in the tree, relative to the top level.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.files.keys().map(PathBuf::as_path)
    }

    /// The path inside the tree that `path` names, or `None` when it lies outside the mount.
    fn relative(&self, path: &Path) -> Option<PathBuf> {
        let path = normalize(path);
        let rel = if path.is_absolute() {
            path.strip_prefix(&self.mount).ok()?.to_path_buf()
        } else {
            path
        };
        if rel == Path::new(".") {
            return Some(PathBuf::new());
        }
        if rel.starts_with("..") {
            return None;
        }
        Some(rel)
    }

    /// Follows symbolic links, in the path's parents and at its end, to the path they resolve to.
    fn resolve(&self, rel: &Path) -> io::Result<PathBuf> {
        let mut current = rel.to_path_buf();
        for _ in 0..MAX_SYMLINK_HOPS {
            let mut resolved = PathBuf::new();
            let mut followed = false;
            let components: Vec<_> = current.components().collect();
            for (i, component) in components.iter().enumerate() {
                resolved.push(component);
                if let Some(entry) = self.files.get(&resolved).filter(|e| e.symlink) {
                    let target = String::from_utf8_lossy(&self.blob(&entry.oid)?).into_owned();
                    let base = resolved.parent().map(Path::to_path_buf).unwrap_or_default();
                    let mut next = if Path::new(&target).is_absolute() {
                        PathBuf::from(&target)
                    } else {
                        base.join(&target)
                    };
                    for rest in &components[i + 1..] {
                        next.push(rest);
                    }
                    current = self.relative(&next).ok_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::NotFound,
                            format!("{}: link leaves the repository", rel.display()),
                        )
                    })?;
                    followed = true;
                    break;
                }
            }
            if !followed {
                return Ok(current);
            }
        }
        Err(io::Error::other(format!(
            "{}: too many levels of symbolic links",
            rel.display()
        )))
    }

    fn blob(&self, oid: &str) -> io::Result<Vec<u8>> {
        let mut guard = self
            .reader
            .lock()
            .map_err(|_| io::Error::other("git reader lock poisoned"))?;
        if guard.is_none() {
            *guard = Some(CatFile::start(&self.mount).map_err(io::Error::other)?);
        }
        let reader = guard.as_mut().expect("started above");
        match reader.blob(oid) {
            Ok(data) => Ok(data),
            Err(error) => {
                *guard = None; // a broken pipe is not reused
                Err(error)
            }
        }
    }

    fn lookup(&self, path: &Path) -> Option<PathBuf> {
        let rel = self.relative(path)?;
        self.resolve(&rel).ok()
    }

    /// The error a working tree gives for a missing file, so that a render failing on both
    /// sides of a comparison fails with the same words (callers name the path).
    fn not_found(path: &Path) -> io::Error {
        if cfg!(unix) {
            io::Error::from_raw_os_error(2) // ENOENT
        } else {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: no such file or directory", path.display()),
            )
        }
    }
}

impl Fs for GitTreeFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let rel = self
            .lookup(path)
            .ok_or_else(|| GitTreeFs::not_found(path))?;
        let entry = self
            .files
            .get(&rel)
            .ok_or_else(|| GitTreeFs::not_found(path))?;
        if let Some(changed) = &self.worktree_changed
            && !entry.symlink
            && !changed.contains(&rel)
            && let Ok(data) = std::fs::read(self.mount.join(&rel))
        {
            return Ok(data);
        }
        self.blob(&entry.oid)
    }

    fn is_dir(&self, path: &Path) -> bool {
        // the repository's `.git` is where it is in the working tree (never listed nor read): the
        // revision is a work tree at the same place, so what finds a work tree's root finds it
        if self
            .relative(path)
            .is_some_and(|rel| rel == Path::new(".git"))
        {
            return true;
        }
        self.lookup(path)
            .is_some_and(|rel| self.dirs.contains(&rel))
    }

    fn is_file(&self, path: &Path) -> bool {
        self.lookup(path)
            .is_some_and(|rel| self.files.contains_key(&rel))
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let rel = self
            .lookup(path)
            .ok_or_else(|| GitTreeFs::not_found(path))?;
        if !self.dirs.contains(&rel) {
            return Err(GitTreeFs::not_found(path));
        }
        let children = self
            .dirs
            .range(rel.clone()..)
            .take_while(|p| p.starts_with(&rel))
            .chain(
                self.files
                    .range(rel.clone()..)
                    .map(|(p, _)| p)
                    .take_while(|p| p.starts_with(&rel)),
            )
            .filter(|p| p.parent() == Some(rel.as_path()))
            .filter_map(|p| p.file_name());
        let mut entries: Vec<PathBuf> = children.map(|name| path.join(name)).collect();
        entries.sort();
        entries.dedup();
        Ok(entries)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        let rel = self
            .lookup(path)
            .ok_or_else(|| GitTreeFs::not_found(path))?;
        if self.files.contains_key(&rel) || self.dirs.contains(&rel) {
            Ok(self.mount.join(rel))
        } else {
            Err(GitTreeFs::not_found(path))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &Path, args: &[&str]) {
        let status = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?}");
    }

    fn repo() -> Option<PathBuf> {
        if Command::new("git").arg("--version").output().is_err() {
            eprintln!("skipping: git is not installed");
            return None;
        }
        let dir = std::env::temp_dir().join(format!(
            "capstan-gitfs-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(dir.join("apps/web")).expect("mkdir");
        run(&dir, &["init", "-q", "-b", "main"]);
        std::fs::write(
            dir.join("apps/web/kustomization.yaml"),
            "resources: [deploy.yaml]\n",
        )
        .expect("write");
        std::fs::write(dir.join("apps/web/deploy.yaml"), "kind: Deployment\n").expect("write");
        #[cfg(unix)]
        std::os::unix::fs::symlink("web", dir.join("apps/current")).expect("symlink");
        run(&dir, &["add", "-A"]);
        run(&dir, &["commit", "-q", "-m", "one"]);
        std::fs::write(dir.join("apps/web/deploy.yaml"), "kind: StatefulSet\n").expect("write");
        std::fs::write(dir.join("new.yaml"), "x: 1\n").expect("write");
        run(&dir, &["add", "-A"]);
        run(&dir, &["commit", "-q", "-m", "two"]);
        Some(dir)
    }

    fn rand_suffix() -> u128 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    }

    #[test]
    fn reads_an_older_revision_without_a_checkout() {
        let Some(dir) = repo() else { return };
        let dir = std::fs::canonicalize(&dir).expect("canonical");
        let fs = GitTreeFs::open(&dir, "HEAD~1").expect("open");
        assert_eq!(
            fs.read_to_string(&dir.join("apps/web/deploy.yaml"))
                .unwrap(),
            "kind: Deployment\n"
        );
        assert_eq!(
            fs.read_to_string(Path::new("apps/web/deploy.yaml"))
                .unwrap(),
            "kind: Deployment\n"
        );
        assert!(!fs.exists(Path::new("new.yaml")));
        assert!(fs.is_dir(Path::new("apps")) && fs.is_dir(Path::new(".")) && fs.is_dir(&dir));
        assert_eq!(
            fs.read_dir(Path::new("apps/web")).unwrap(),
            vec![
                PathBuf::from("apps/web/deploy.yaml"),
                PathBuf::from("apps/web/kustomization.yaml")
            ]
        );
        assert_eq!(fs.read_dir(&dir).unwrap(), vec![dir.join("apps")]);
        #[cfg(unix)]
        {
            assert!(fs.is_dir(Path::new("apps/current")));
            assert_eq!(
                fs.read_to_string(Path::new("apps/current/deploy.yaml"))
                    .unwrap(),
                "kind: Deployment\n"
            );
            assert_eq!(
                fs.canonicalize(Path::new("apps/current")).unwrap(),
                dir.join("apps/web")
            );
        }
        assert!(fs.read(Path::new("../outside")).is_err());
        assert!(fs.read(Path::new("apps")).is_err());

        let head = GitTreeFs::open(&dir, "HEAD").expect("open");
        assert_eq!(
            head.read_to_string(Path::new("apps/web/deploy.yaml"))
                .unwrap(),
            "kind: StatefulSet\n"
        );
        assert!(head.is_file(Path::new("new.yaml")));
        assert_ne!(head.commit(), fs.commit());

        // no upstream: the default base is HEAD
        let (base, how) = default_base(&dir).expect("base");
        assert_eq!(base, head.commit());
        assert_eq!(how, "HEAD");
        assert!(GitTreeFs::open(&dir, "no-such-rev").is_err());
        assert!(resolve_revision(&dir, "--all").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn default_base_is_the_merge_base_with_upstream() {
        let Some(dir) = repo() else { return };
        run(&dir, &["branch", "-q", "feature", "HEAD~1"]);
        run(&dir, &["checkout", "-q", "feature"]);
        run(&dir, &["branch", "-q", "--set-upstream-to=main"]);
        std::fs::write(dir.join("f.yaml"), "y: 2\n").expect("write");
        run(&dir, &["add", "-A"]);
        run(&dir, &["commit", "-q", "-m", "three"]);
        let (base, how) = default_base(&dir).expect("base");
        assert_eq!(base, resolve_revision(&dir, "main~1").unwrap());
        assert!(how.contains("main"), "{how}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
