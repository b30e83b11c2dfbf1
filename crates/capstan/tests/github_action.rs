//! The GitHub Action's script (`action/run.py`) run as GitHub would run it on a pull request:
//! a throwaway git repository (a copy of `examples/home-ops` with one commit on top), a
//! simulated `pull_request` event, and a stand-in for the GitHub API on loopback that records
//! every request. The first run posts one comment holding check, diff and plan; the second
//! updates that comment instead of adding another. Missing or wrong inputs are one-line errors.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use capstan_testkit::git::{copy_tree, git};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One request the stand-in received.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    authorization: String,
    body: Value,
}

/// A GitHub issues-comments API on 127.0.0.1: lists, creates and edits comments in memory.
struct StandIn {
    url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

fn stand_in() -> StandIn {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
    let log = requests.clone();
    std::thread::spawn(move || {
        let mut comments: BTreeMap<u64, String> = BTreeMap::new();
        let mut next_id = 1001;
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or_default().to_owned();
            let path = parts.next().unwrap_or_default().to_owned();
            let mut length = 0;
            let mut authorization = String::new();
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                    break;
                }
                let (name, value) = header.split_once(':').unwrap_or_default();
                match name.trim().to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "authorization" => authorization = value.trim().to_owned(),
                    _ => {}
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            log.lock().expect("log").push(Request {
                method: method.clone(),
                path: path.clone(),
                authorization,
                body: body.clone(),
            });
            let route = path.split('?').next().unwrap_or_default();
            let (status, answer) = match (method.as_str(), route) {
                ("GET", "/repos/me/home-ops/issues/7/comments") => {
                    let list: Vec<Value> = comments
                        .iter()
                        .map(|(id, body)| json!({"id": id, "body": body}))
                        .collect();
                    ("200 OK", Value::Array(list))
                }
                ("POST", "/repos/me/home-ops/issues/7/comments") => {
                    let id = next_id;
                    next_id += 1;
                    let text = body["body"].as_str().unwrap_or_default().to_owned();
                    comments.insert(id, text);
                    ("201 Created", json!({"id": id}))
                }
                ("PATCH", r) if r.starts_with("/repos/me/home-ops/issues/comments/") => {
                    let id: u64 = r.rsplit('/').next().unwrap_or("").parse().unwrap_or(0);
                    match comments.get_mut(&id) {
                        Some(text) => {
                            *text = body["body"].as_str().unwrap_or_default().to_owned();
                            ("200 OK", json!({"id": id}))
                        }
                        None => ("404 Not Found", json!({"message": "Not Found"})),
                    }
                }
                _ => ("404 Not Found", json!({"message": "Not Found"})),
            };
            let text = answer.to_string();
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    StandIn { url, requests }
}

fn tools_present() -> bool {
    let ok = |tool: &str| Command::new(tool).arg("--version").output().is_ok();
    if !ok("python3") || !ok("git") {
        eprintln!("skipped: python3 and git are needed to run the action's script");
        return false;
    }
    true
}

/// A repository with the example at the base commit and the pull request's change on top.
fn pull_request_repo(dir: &Path) -> (PathBuf, String) {
    let repo = dir.join("repo");
    copy_tree(&workspace().join("examples/home-ops"), &repo);
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "base"]);
    let base = String::from_utf8(
        Command::new("git")
            .args(["-C", repo.to_str().expect("utf-8"), "rev-parse", "HEAD"])
            .output()
            .expect("git")
            .stdout,
    )
    .expect("utf-8")
    .trim()
    .to_owned();
    // the change: another replica for whoami
    let deployment = repo.join("apps/whoami/deployment.yaml");
    let text = std::fs::read_to_string(&deployment).expect("whoami deployment");
    assert!(text.contains("replicas: 2"), "{text}");
    let changed = text.replacen("replicas: 2", "replicas: 3", 1);
    std::fs::write(&deployment, changed).expect("write");
    git(&repo, &["commit", "-q", "-am", "whoami: three replicas"]);
    (repo, base)
}

fn run_action(repo: &Path, dir: &Path, api: &str, inputs: &[(&str, &str)]) -> Output {
    let event = dir.join("event.json");
    std::fs::write(
        &event,
        json!({"action": "synchronize", "number": 7,
               "pull_request": {"number": 7, "base": {"sha": pull_base(repo)}}})
        .to_string(),
    )
    .expect("event");
    let mut command = Command::new("python3");
    command
        .arg(workspace().join("action/run.py"))
        .current_dir(repo)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("CAPSTAN_CACHE_DIR", dir.join("cache"))
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", &event)
        .env("GITHUB_REPOSITORY", "me/home-ops")
        .env("GITHUB_API_URL", api)
        .env("GITHUB_WORKSPACE", repo)
        .env("GITHUB_STEP_SUMMARY", dir.join("summary.md"))
        .env("GITHUB_OUTPUT", dir.join("output.txt"))
        .env("INPUT_CAPSTAN", env!("CARGO_BIN_EXE_capstan"))
        .env("INPUT_GITHUB_TOKEN", "test-token");
    if let Some(oracles) = std::env::var_os("CAPSTAN_ORACLES") {
        command.env("CAPSTAN_ORACLES", oracles);
    }
    for (name, value) in inputs {
        command.env(name, value);
    }
    command.output().expect("python3 runs")
}

fn pull_base(repo: &Path) -> String {
    let out = Command::new("git")
        .args(["-C", repo.to_str().expect("utf-8"), "rev-parse", "HEAD~1"])
        .output()
        .expect("git");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn posts_one_comment_then_updates_it() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, base) = pull_request_repo(dir.path());
    let api = stand_in();
    let inputs = [("INPUT_PATH", "."), ("INPUT_FAIL_ON", "critical")];

    let first = run_action(&repo, dir.path(), &api.url, &inputs);
    let log = String::from_utf8_lossy(&first.stdout).into_owned();
    let err = String::from_utf8_lossy(&first.stderr).into_owned();
    assert_eq!(first.status.code(), Some(0), "{log}\n{err}");
    assert!(log.contains(&format!("--base {base}")), "{log}");
    assert!(
        log.contains("posted comment 1001 on pull request #7"),
        "{log}"
    );
    {
        let requests = api.requests.lock().expect("log");
        let methods: Vec<&str> = requests.iter().map(|r| r.method.as_str()).collect();
        assert_eq!(methods, ["GET", "POST"], "{requests:?}");
        assert!(
            requests
                .iter()
                .all(|r| r.authorization == "Bearer test-token")
        );
        let body = requests[1].body["body"].as_str().expect("a body");
        assert!(body.starts_with("<!-- capstan-action path=. -->"), "{body}");
        assert!(body.contains("### capstan check: clean"), "{body}");
        assert!(
            body.contains("Deployment.apps/whoami/whoami"),
            "the diff: {body}"
        );
        assert!(body.contains("replicas"), "the diff: {body}");
        assert!(body.contains("### capstan plan"), "the plan: {body}");
    }
    let summary = std::fs::read_to_string(dir.path().join("summary.md")).expect("summary");
    assert!(summary.contains("### capstan plan"), "{summary}");
    let output = std::fs::read_to_string(dir.path().join("output.txt")).expect("output");
    assert_eq!(output, "result=clean\n");

    // a second push: the same comment is edited
    let second = run_action(&repo, dir.path(), &api.url, &inputs);
    let log = String::from_utf8_lossy(&second.stdout).into_owned();
    assert_eq!(second.status.code(), Some(0), "{log}");
    assert!(
        log.contains("updated comment 1001 on pull request #7"),
        "{log}"
    );
    let requests = api.requests.lock().expect("log");
    let methods: Vec<&str> = requests.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(methods, ["GET", "POST", "GET", "PATCH"], "{requests:?}");
    assert_eq!(requests[3].path, "/repos/me/home-ops/issues/comments/1001");
}

#[test]
fn fail_on_fails_the_job_and_still_comments() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = pull_request_repo(dir.path());
    let api = stand_in();
    let run = run_action(
        &repo,
        dir.path(),
        &api.url,
        &[("INPUT_PATH", "."), ("INPUT_FAIL_ON", "low")],
    );
    let log = String::from_utf8_lossy(&run.stdout).into_owned();
    assert_eq!(run.status.code(), Some(1), "{log}");
    assert!(log.contains("--fail-on low"), "{log}");
    assert!(log.contains("posted comment"), "{log}");
    let output = std::fs::read_to_string(dir.path().join("output.txt")).expect("output");
    assert_eq!(output, "result=failed\n");
}

#[test]
fn the_age_key_reaches_capstan_and_never_the_comment() {
    if !tools_present() {
        return;
    }
    let keygen = Command::new("age-keygen").output().or_else(|_| {
        let oracles = std::env::var("CAPSTAN_ORACLES").unwrap_or_else(|_| {
            format!(
                "{}/.cache/capstan-oracles",
                std::env::var("HOME").unwrap_or_default()
            )
        });
        Command::new(format!("{oracles}/bin/age-keygen")).output()
    });
    let Ok(keygen) = keygen else {
        eprintln!("skipped: age-keygen is not installed");
        return;
    };
    let text = String::from_utf8_lossy(&keygen.stdout).into_owned();
    let key = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("a key")
        .to_owned();
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = pull_request_repo(dir.path());
    let api = stand_in();
    let run = run_action(
        &repo,
        dir.path(),
        &api.url,
        &[("INPUT_PATH", "."), ("INPUT_AGE_KEY", &key)],
    );
    let log = String::from_utf8_lossy(&run.stdout).into_owned();
    assert_eq!(run.status.code(), Some(0), "{log}");
    // masked in the log (GitHub replaces it), never in a request
    assert!(log.contains(&format!("::add-mask::{key}")), "{log}");
    assert_eq!(log.matches(&key).count(), 1, "{log}");
    let requests = api.requests.lock().expect("log");
    assert!(requests.iter().all(|r| !r.body.to_string().contains(&key)));
}

#[test]
fn bad_inputs_are_one_line_errors() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (repo, _) = pull_request_repo(dir.path());
    let api = stand_in();
    for (inputs, expected) in [
        (
            vec![("INPUT_FAIL_ON", "sometimes")],
            "input fail-on is 'sometimes'",
        ),
        (
            vec![("INPUT_PATH", "no/such/folder")],
            "input path 'no/such/folder'",
        ),
        (vec![("INPUT_GITHUB_TOKEN", "")], "no token to comment with"),
    ] {
        let run = run_action(&repo, dir.path(), &api.url, &inputs);
        let log = String::from_utf8_lossy(&run.stdout).into_owned();
        assert_eq!(run.status.code(), Some(2), "{inputs:?}: {log}");
        let errors: Vec<&str> = log.lines().filter(|l| l.starts_with("::error")).collect();
        assert_eq!(errors.len(), 1, "{log}");
        assert!(errors[0].contains(expected), "{log}");
    }
    // nothing was posted for any of them
    assert!(
        api.requests
            .lock()
            .expect("log")
            .iter()
            .all(|r| r.method == "GET")
    );
}
