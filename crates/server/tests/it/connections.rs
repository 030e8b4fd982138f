//! Connections over real sockets: slow headers cut off, idle connections
//! closed, slow bodies timed out, the connection limit answering 503, and
//! hyper's own errors in the JSON error shape.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bearing_server::listen::Limits;
use bearing_server::{AuthMode, Options};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::*;

struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), bearing_server::ServerError>>,
    _server: Server,
}

impl Running {
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the server did not stop")
            .unwrap()
            .unwrap();
    }
}

async fn start(options: Options, limits: Limits) -> Running {
    let server = server_with(AuthMode::Off, INTENT, options).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(bearing_server::run_with(
        server.state.clone(),
        listener,
        None,
        limits,
        async {
            let _ = rx.await;
        },
    ));
    Running {
        addr,
        stop: Some(tx),
        task,
        _server: server,
    }
}

/// Sends `request` on a new connection and reads the answer to its end.
async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out))
        .await
        .unwrap_or_else(|_| {
            let head = String::from_utf8_lossy(&request[..request.len().min(60)]);
            panic!("no answer in 30 s to {head:?}…")
        })
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";

/// The status and JSON body of an answer.
fn parse(answer: &str) -> (u16, serde_json::Value) {
    let status = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

/// Waits until the server closes `s` (or `limit` passes): how long it took.
async fn closed_after(mut s: TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(limit.saturating_sub(start.elapsed()), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
            Err(_) => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off_and_connections_past_the_limit_get_503() {
    let limits = Limits {
        header_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_secs(10),
        max_connections: 20,
    };
    let srv = start(Options::default(), limits).await;
    // Twenty clients each sending one header byte every 100 ms.
    let mut slow = Vec::new();
    for _ in 0..20 {
        let s = TcpStream::connect(srv.addr).await.unwrap();
        let (mut read, mut write) = s.into_split();
        let trickle = tokio::spawn(async move {
            for b in b"GET /healthz HTTP/1.1\r\nhost: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" {
                if write.write_all(&[*b]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        let closed = tokio::spawn(async move {
            let start = Instant::now();
            let mut buf = [0u8; 256];
            loop {
                match tokio::time::timeout(Duration::from_secs(5), read.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
                    Ok(Ok(_)) => {}
                    Err(_) => return None,
                }
            }
        });
        slow.push((trickle, closed));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The limit is reached: a new connection is answered at once, not left hanging.
    let start = Instant::now();
    let (status, body) = parse(&exchange(srv.addr, HEALTHZ).await);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "busy");
    assert!(start.elapsed() < Duration::from_millis(500));
    // Every slow client is cut off at the header timeout, freeing its slot.
    for (trickle, closed) in slow {
        let took = closed
            .await
            .unwrap()
            .expect("a slow client was never cut off");
        assert!(took < Duration::from_millis(1500), "cut off after {took:?}");
        trickle.abort();
    }
    let start = Instant::now();
    let (status, _) = parse(&exchange(srv.addr, HEALTHZ).await);
    assert_eq!(status, 200);
    assert!(start.elapsed() < Duration::from_millis(200));
    let metrics = exchange(
        srv.addr,
        b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(
        metrics.contains("bearing_connections_refused_total 1"),
        "{metrics}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let limits = Limits {
        header_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_millis(400),
        ..Limits::default()
    };
    let srv = start(Options::default(), limits).await;
    // Silent from the start.
    let s = TcpStream::connect(srv.addr).await.unwrap();
    let took = closed_after(s, Duration::from_secs(5))
        .await
        .expect("never closed");
    assert!(
        took >= Duration::from_millis(350) && took < Duration::from_secs(2),
        "{took:?}"
    );
    // Silent after a first answer on a kept-alive connection.
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let took = closed_after(s, Duration::from_secs(5))
        .await
        .expect("never closed");
    assert!(took < Duration::from_secs(2), "{took:?}");
    srv.stop().await;
}

#[tokio::test]
async fn a_body_that_stalls_gets_408_in_json() {
    let options = Options {
        request_timeout: Duration::from_millis(400),
        ..Options::default()
    };
    let srv = start(options, Limits::default()).await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"POST /v1/events HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-ndjson\r\ncontent-length: 1000\r\n\r\n{\"id\":")
        .await
        .unwrap();
    let start = Instant::now();
    let mut out = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut out))
        .await
        .expect("no answer to a stalled body")
        .unwrap();
    let (status, body) = parse(&String::from_utf8_lossy(&out[..n]));
    assert_eq!(status, 408, "{body}");
    assert_eq!(body["error"]["code"], "timeout");
    assert!(start.elapsed() < Duration::from_secs(2));
    srv.stop().await;
}

#[tokio::test]
async fn hypers_own_refusals_have_the_json_error_body() {
    let srv = start(Options::default(), Limits::default()).await;
    let mut many = String::from("GET /healthz HTTP/1.1\r\nhost: x\r\n");
    for i in 0..150 {
        many.push_str(&format!("x-h{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let (status, body) = parse(&exchange(srv.addr, many.as_bytes()).await);
    assert_eq!(status, 431, "{body}");
    assert_eq!(body["error"]["code"], "headers_too_large");
    let big = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(500_000)
    );
    let (status, body) = parse(&exchange(srv.addr, big.as_bytes()).await);
    assert_eq!(status, 431, "{body}");
    assert!(body["error"]["message"].is_string());
    let (status, body) = parse(&exchange(srv.addr, b"BAD\x01 / HTTP/1.1\r\n\r\n").await);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "bad_request");
    // Ordinary answers are untouched.
    let (status, body) = parse(&exchange(srv.addr, HEALTHZ).await);
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    srv.stop().await;
}

#[test]
fn the_connection_limit_fits_the_open_file_limit() {
    let asked = Limits {
        max_connections: usize::MAX,
        ..Limits::default()
    };
    if cfg!(target_os = "linux") {
        assert!(asked.fitted().max_connections < usize::MAX);
    }
}
