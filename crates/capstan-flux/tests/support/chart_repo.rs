//! A local HTTP chart repository for tests: a tiny HTTP/1.1 server on 127.0.0.1 (a free port)
//! in a thread, serving the files of a directory, optionally behind basic auth, counting the
//! requests per path. Shared by capstan-flux's fetch tests and capstan's CLI test (which includes
//! this file with `#[path]`).

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The committed fixture repository (`hello` at 0.1.0, 0.2.0, 1.0.0, 1.1.0, 1.2.0-rc.1).
pub fn fixture_repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../capstan-flux/tests/fixtures/charts/repo")
}

/// Copies the fixture repository into a fresh temporary directory tests may alter.
pub fn copy_fixture_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(fixture_repo()).expect("fixture repo") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
    }
    dir
}

/// A running server; stops when dropped.
pub struct ChartRepo {
    pub url: String,
    requests: Arc<Mutex<HashMap<String, usize>>>,
    stop: Arc<AtomicBool>,
    port: u16,
}

impl ChartRepo {
    /// Serves `dir`; with `auth`, every request needs that basic-auth user and password.
    pub fn serve(dir: &Path, auth: Option<(&str, &str)>) -> ChartRepo {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let requests = Arc::new(Mutex::new(HashMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let root = dir.to_path_buf();
        let expected = auth.map(|(u, p)| {
            use base64::Engine as _;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        });
        let (counts, stopped) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (root, counts, expected) = (root.clone(), counts.clone(), expected.clone());
                std::thread::spawn(move || {
                    let _ = handle(stream, &root, &counts, expected.as_deref());
                });
            }
        });
        ChartRepo {
            url: format!("http://127.0.0.1:{port}"),
            requests,
            stop,
            port,
        }
    }

    /// How many requests asked for `path` (e.g. `/index.yaml`).
    pub fn requests(&self, path: &str) -> usize {
        self.requests
            .lock()
            .expect("lock")
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Every request so far.
    pub fn total_requests(&self) -> usize {
        self.requests.lock().expect("lock").values().sum()
    }
}

impl Drop for ChartRepo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn handle(
    stream: TcpStream,
    root: &Path,
    counts: &Mutex<HashMap<String, usize>>,
    expected_auth: Option<&str>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("authorization")
        {
            authorization = Some(value.trim().to_owned());
        }
    }
    let target = request_line.split_whitespace().nth(1).unwrap_or("/");
    let path = target.split('?').next().unwrap_or("/").to_owned();
    *counts
        .lock()
        .expect("lock")
        .entry(path.clone())
        .or_default() += 1;
    let mut stream = stream;
    if let Some(expected) = expected_auth
        && authorization.as_deref() != Some(expected)
    {
        return respond(
            &mut stream,
            "401 Unauthorized",
            b"unauthorized",
            "WWW-Authenticate: Basic realm=\"charts\"\r\n",
        );
    }
    let relative = path.trim_start_matches('/');
    if relative.split('/').any(|p| p == "..") {
        return respond(&mut stream, "400 Bad Request", b"bad path", "");
    }
    match std::fs::File::open(root.join(relative)) {
        Ok(mut file) if !relative.is_empty() => {
            let mut body = Vec::new();
            file.read_to_end(&mut body)?;
            respond(&mut stream, "200 OK", &body, "")
        }
        _ => respond(&mut stream, "404 Not Found", b"not found", ""),
    }
}

fn respond(stream: &mut TcpStream, status: &str, body: &[u8], extra: &str) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    stream.flush()
}
