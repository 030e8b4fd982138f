//! A real Prometheus for the tests (Debian's `prometheus` binary,
//! `BEARING_PROMETHEUS_BIN`), scraping a small exporter the test runs.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The Prometheus binary, or `None` after saying the test is skipped; with
/// `CI=true` a missing binary fails the test instead.
pub fn prometheus_bin_or_skip() -> Option<PathBuf> {
    let bin = prometheus_bin();
    if bin.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI needs Prometheus: install Debian's `prometheus` or set BEARING_PROMETHEUS_BIN"
        );
        eprintln!(
            "skipped: no `prometheus` binary (install Debian's `prometheus` or set BEARING_PROMETHEUS_BIN)"
        );
    }
    bin
}

/// Starts Prometheus on a free loopback port, scraping the exporter every
/// second, with its config, data and log under `dir`; returns once it is
/// ready, with its base URL.
pub fn start_prometheus(bin: &Path, dir: &Path, exporter_port: u16) -> (Proc, String) {
    let d = dir;
    let port = free_port();
    let prom_url = format!("http://127.0.0.1:{port}");
    std::fs::write(
        d.join("prometheus.yml"),
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             scrape_configs:\n  - job_name: app\n    static_configs: [{{targets: ['127.0.0.1:{exporter_port}']}}]\n"
        ),
    )
    .unwrap();
    let prometheus = Proc(
        Command::new(bin)
            .arg(format!(
                "--config.file={}",
                d.join("prometheus.yml").display()
            ))
            .arg(format!("--storage.tsdb.path={}", d.join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("prometheus.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let ready = Instant::now();
    while !get(&url_with(&prom_url, "/-/ready")).is_ok_and(|(s, _)| s == 200) {
        assert!(
            ready.elapsed() < Duration::from_secs(30),
            "Prometheus did not become ready: {}",
            std::fs::read_to_string(d.join("prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    (prometheus, prom_url)
}

pub fn prometheus_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BEARING_PROMETHEUS_BIN") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join("prometheus"))
        .find(|p| p.is_file())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Kills the child when dropped (the test's own processes only).
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A tiny exporter: `app_requests_total{code="200"|"500"}` as functions of
/// the seconds since it started: 20 requests a second, of which 2 a second
/// fail, plus 3 more a second after the fifth second (a burn).
pub fn exporter(stop: Arc<AtomicBool>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let start = Instant::now();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            // The request line and headers, up to the blank line.
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                if line == "\r\n" || line == "\n" {
                    break;
                }
                line.clear();
            }
            let t = start.elapsed().as_secs_f64();
            let total = (t * 20.0).floor();
            let errors = ((t * 2.0).floor() + ((t - 5.0).max(0.0) * 3.0).floor()).min(total);
            let body = format!(
                "# TYPE app_requests_total counter\n\
                 app_requests_total{{code=\"200\"}} {}\n\
                 app_requests_total{{code=\"500\"}} {errors}\n",
                total - errors
            );
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

pub fn get(url: &str) -> Result<(u16, String), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent.get(url).call().map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().map_err(|e| e.to_string())?;
    Ok((status, text))
}

pub fn url_with(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}
