//! Once one remote fetch finds its host unreachable, the others in the same run fail at once
//! (sharing the options' reachability record) fail at once with that first cause.

use std::net::TcpListener;
use std::path::Path;

use capstan_core::OsFs;
use capstan_kustomize::{Options, build};

fn app(dir: &Path, url: &str) {
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(
        dir.join("kustomization.yaml"),
        format!("resources:\n- {url}\n"),
    )
    .expect("write");
}

#[test]
fn first_unreachable_host_stops_the_other_fetches() {
    // A port nobody listens on: the connection is refused.
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    // A live server that must not be asked once the network counts as unreachable.
    let live = TcpListener::bind("127.0.0.1:0").expect("bind");
    let live_port = live.local_addr().expect("addr").port();

    let tmp = tempfile::tempdir().expect("tempdir");
    let options = Options {
        remote_cache: Some(tmp.path().join("cache")),
        ..Options::default()
    };
    let a = tmp.path().join("a");
    app(&a, &format!("http://127.0.0.1:{port}/cm.yaml"));
    let err = build(&OsFs, &a, &options).expect_err("refused").to_string();
    assert!(err.contains("network unreachable"), "{err}");
    assert!(
        matches!(options.network.unreachable(), Some(u) if u.host == "127.0.0.1"),
        "recorded"
    );

    let b = tmp.path().join("b");
    app(&b, &format!("http://127.0.0.1:{live_port}/cm.yaml"));
    let err = build(&OsFs, &b, &options)
        .expect_err("not tried")
        .to_string();
    // The second fetch names its own URL and the first cause.
    assert!(
        err.contains(&format!("127.0.0.1:{live_port}/cm.yaml' not fetched")),
        "{err}"
    );
    assert!(err.contains(&format!("port {port}")), "{err}");
    live.set_nonblocking(true).expect("nonblocking");
    assert!(live.accept().is_err(), "the live server was contacted");
}
