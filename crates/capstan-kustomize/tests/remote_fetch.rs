//! Remote resources fetched once into the cache and read from it offline: a local bare git
//! repository (`file://…//path?ref=…`) and a local HTTP server, no internet.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use capstan_core::OsFs;
use capstan_kustomize::{Error, Options, build, render};

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@e",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: remote\ndata:\n  k: v\n";

#[test]
fn git_remote_is_fetched_once_and_read_offline() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let work = tmp.path().join("work");
    write(
        &work.join("deploy/base/kustomization.yaml"),
        "resources:\n- cm.yaml\n",
    );
    write(&work.join("deploy/base/cm.yaml"), CM);
    std::fs::create_dir_all(&work).expect("mkdir");
    git(&work, &["init", "--quiet"]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "--quiet", "-m", "base"]);
    let bare = tmp.path().join("repo.git");
    git(
        tmp.path(),
        &[
            "clone",
            "--quiet",
            "--bare",
            work.to_str().expect("utf-8"),
            "repo.git",
        ],
    );

    let app = tmp.path().join("app");
    let url = format!("file://{}//deploy/base?ref=main", bare.display());
    write(
        &app.join("kustomization.yaml"),
        &format!("resources:\n- {url}\n"),
    );
    let cache = tmp.path().join("cache");
    let online = Options {
        remote_cache: Some(cache.clone()),
        ..Options::default()
    };
    let first = render(&build(&OsFs, &app, &online).expect("builds online"));
    assert!(first.contains("name: remote"), "{first}");

    // The repository is gone: the cache alone serves the next build, offline too.
    std::fs::remove_dir_all(&bare).expect("remove repo");
    let offline = Options {
        offline: true,
        ..online.clone()
    };
    assert_eq!(
        render(&build(&OsFs, &app, &offline).expect("cached")),
        first
    );
    assert_eq!(render(&build(&OsFs, &app, &online).expect("cached")), first);

    // Offline with an empty cache: the miss names the URL.
    let empty = Options {
        remote_cache: Some(tmp.path().join("empty")),
        offline: true,
        ..Options::default()
    };
    let err = build(&OsFs, &app, &empty).expect_err("not cached");
    assert!(
        matches!(&err, Error::NotCached { url: u, .. } if *u == url)
            || err.to_string().contains(&url),
        "{err}"
    );
    assert!(err.to_string().contains("--offline"), "{err}");
}

/// Serves `body` for every request on a local port, counting requests.
fn serve(body: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            // A connection that sends nothing is the reachability check, not a request.
            if !reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                continue;
            }
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && !line.ends_with("\r\n\r\n") {}
            counter.fetch_add(1, Ordering::SeqCst);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (format!("http://127.0.0.1:{port}/cm.yaml"), hits)
}

#[test]
fn http_remote_is_fetched_once_and_read_offline() {
    let (url, hits) = serve(CM);
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = tmp.path().join("app");
    write(
        &app.join("kustomization.yaml"),
        &format!("resources:\n- {url}\n"),
    );
    let online = Options {
        remote_cache: Some(tmp.path().join("cache")),
        ..Options::default()
    };
    let first = render(&build(&OsFs, &app, &online).expect("builds online"));
    assert!(first.contains("name: remote"), "{first}");
    let again = render(&build(&OsFs, &app, &online).expect("builds again"));
    assert_eq!(again, first);
    let offline = Options {
        offline: true,
        ..online.clone()
    };
    assert_eq!(
        render(&build(&OsFs, &app, &offline).expect("cached")),
        first
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1, "fetched once");

    let empty = Options {
        remote_cache: Some(tmp.path().join("empty")),
        offline: true,
        ..Options::default()
    };
    let err = build(&OsFs, &app, &empty).expect_err("not cached");
    assert!(err.to_string().contains(&url), "{err}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "offline touched the network"
    );
}
