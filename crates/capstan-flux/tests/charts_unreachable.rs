//! Once one chart fetch finds its host unreachable, the other chart fetches of the run fail at
//! once with that first cause instead of each waiting (the fetcher's reachability record).

use std::net::TcpListener;
use std::time::Duration;

use capstan_flux::charts::{ChartError, Charts, Credentials, HttpRepository};

fn repository(url: &str) -> HttpRepository {
    HttpRepository {
        name: "HelmRepository/flux-system/local".into(),
        url: url.into(),
        timeout: Duration::from_secs(10),
        credentials: Credentials::None,
        pass_credentials: false,
    }
}

#[test]
fn first_unreachable_host_stops_the_other_chart_fetches() {
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let live = TcpListener::bind("127.0.0.1:0").expect("bind");
    let live_port = live.local_addr().expect("addr").port();

    let charts = Charts::new(None, false);
    let Err(err) = charts.http(
        &repository(&format!("http://127.0.0.1:{port}")),
        "hello",
        "1.0.0",
    ) else {
        panic!("a refused connection fetched a chart");
    };
    assert!(matches!(err, ChartError::Unreachable { .. }), "{err}");

    let Err(err) = charts.http(
        &repository(&format!("http://127.0.0.1:{live_port}")),
        "hello",
        "1.0.0",
    ) else {
        panic!("fetched after the network was found unreachable");
    };
    match &err {
        ChartError::Unreachable { url, source } => {
            assert!(url.contains(&live_port.to_string()), "{err}");
            assert_eq!(source.host, format!("127.0.0.1:{port}"));
        }
        other => panic!("expected the first cause, got {other}"),
    }
    live.set_nonblocking(true).expect("nonblocking");
    assert!(live.accept().is_err(), "the live server was contacted");
}
