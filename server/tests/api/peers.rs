//! Real peers (Prometheus, Alertmanager) started on a free loopback port for one test and
//! killed when it ends.

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

/// A peer process and the address it serves.
pub struct Peer {
    pub child: tokio::process::Child,
    pub base: String,
    pub port: u16,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `program` with `args` and `--web.listen-address` on a free port, and waits until
/// its `/-/ready` answers (both Prometheus and Alertmanager have one).
pub async fn start_peer(program: &str, args: &[String]) -> Peer {
    let port = free_port();
    let child = tokio::process::Command::new(program)
        .args(args)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{program} runs (installed by .ci/tools.sh): {e}"));
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    while client
        .get(format!("{base}/-/ready"))
        .send()
        .await
        .map(|r| r.status().is_success())
        .ok()
        != Some(true)
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{program} did not start"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Peer { child, base, port }
}
