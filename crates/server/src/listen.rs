//! Accepting and serving connections, bounded: at most `max_connections` at
//! once (the next one gets a 503 and is closed), a request's headers must
//! arrive within `header_timeout`, and a connection on which no byte moved
//! for `idle_timeout` is closed. `--request-timeout` (a layer of
//! [`crate::app`]) bounds each request once its headers arrived.
//!
//! hyper answers some malformed requests itself, before any handler runs
//! (431 for headers over its buffer or over 100 of them, 400 for a request
//! line it cannot parse), with an empty body; [`Watched`] gives those the
//! same JSON error body as every other answer.

use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use crate::AppState;

/// Default time for a request's headers to arrive: counted from the
/// connection's start or the end of its previous answer, so it also closes
/// keep-alive connections that send nothing.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default longest time without a byte read or written on a connection.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Default most connections served at once (lowered to fit the process's
/// open-file limit, see [`Limits::fitted`]).
pub const MAX_CONNECTIONS: usize = 4096;
/// File descriptors left for the store, logs and policies when the
/// connection limit is fitted to the open-file limit.
const RESERVED_FDS: u64 = 64;

/// How connections are bounded.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: HEADER_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
        }
    }
}

impl Limits {
    /// These limits with `max_connections` lowered, if needed, so that every
    /// connection has a file descriptor under the process's soft limit
    /// (`ulimit -n`) with [`RESERVED_FDS`] to spare: past it `accept` would
    /// fail and nothing, `/healthz` included, could connect.
    pub fn fitted(mut self) -> Limits {
        if let Some(fds) = open_file_limit() {
            let room =
                usize::try_from(fds.saturating_sub(RESERVED_FDS).max(1)).unwrap_or(usize::MAX);
            if room < self.max_connections {
                tracing::warn!(
                    max_connections = room,
                    asked = self.max_connections,
                    open_file_limit = fds,
                    "connection limit lowered to fit the open-file limit (raise `ulimit -n` for more)"
                );
                self.max_connections = room;
            }
        }
        self
    }
}

/// The soft limit on open files, from `/proc/self/limits` (Linux).
fn open_file_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Serves `state`'s app on `listener` until `shutdown` completes, then stops
/// accepting, lets every connection finish its request in flight and waits
/// for them to close.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let router = crate::app(state.clone());
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(max));
    let (close_tx, close_rx) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    let mut accept_errors = 0u64;
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            r = listener.accept() => r,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, or a connection reset before it was
                // accepted: wait a moment rather than spin, and say so now and then.
                accept_errors += 1;
                if accept_errors.is_power_of_two() {
                    tracing::warn!(error = %e, count = accept_errors, "cannot accept a connection");
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(Duration::from_millis(20)) => continue,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let telemetry = state.clone();
        match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let router = router.clone();
                let close = close_rx.clone();
                tokio::spawn(async move {
                    connection(stream, router, limits, close).await;
                    drop(permit);
                });
            }
            Err(_) => {
                telemetry
                    .telemetry()
                    .connections_refused
                    .fetch_add(1, Ordering::Relaxed);
                tokio::spawn(refuse(stream));
            }
        }
    }
    drop(listener);
    let _ = close_tx.send(true);
    // Every connection holds a permit until it closes.
    let _ = permits.acquire_many(max as u32).await;
    Ok(())
}

/// The answer to a connection over the limit.
const BUSY: &str = "{\"error\":{\"code\":\"busy\",\"message\":\"the server is at its connection limit (`--max-connections`); retry shortly\",\"details\":null}}";

/// Answers 503 to a connection over the limit and closes it, within a second.
async fn refuse(mut stream: TcpStream) {
    use tokio::io::AsyncWriteExt;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{BUSY}",
        BUSY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

/// Serves one connection until it ends, its idle time runs out, or the
/// server shuts down (then after its request in flight).
async fn connection(
    stream: TcpStream,
    router: axum::Router,
    limits: Limits,
    mut close: watch::Receiver<bool>,
) {
    let start = Instant::now();
    let last = Arc::new(AtomicU64::new(0));
    let io = TokioIo::new(Watched {
        inner: stream,
        start,
        last: last.clone(),
        pending: None,
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let conn = builder.serve_connection(io, TowerToHyperService::new(router));
    let mut conn = pin!(conn);
    let mut closing = false;
    if *close.borrow() {
        conn.as_mut().graceful_shutdown();
        closing = true;
    }
    loop {
        let quiet = start
            .elapsed()
            .saturating_sub(Duration::from_millis(last.load(Ordering::Relaxed)));
        let left = limits.idle_timeout.saturating_sub(quiet);
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = close.changed(), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            () = tokio::time::sleep(left) => {
                let quiet = start.elapsed().saturating_sub(Duration::from_millis(last.load(Ordering::Relaxed)));
                if quiet >= limits.idle_timeout {
                    tracing::debug!(?quiet, "closing an idle connection");
                    return;
                }
            }
        }
    }
}

/// A TCP stream that records when a byte last moved, and gives hyper's own
/// bodiless error answers the JSON error body.
struct Watched {
    inner: TcpStream,
    start: Instant,
    /// Milliseconds after `start` of the last byte read or written.
    last: Arc<AtomicU64>,
    /// A replacement answer being written, and how much of it is.
    pending: Option<(Vec<u8>, usize)>,
}

impl Watched {
    fn moved(&self) {
        self.last
            .store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

/// The JSON answer standing for one hyper wrote without a body (`head` is
/// what hyper wrote), or `None` when `head` is not such an answer.
fn replacement(head: &[u8]) -> Option<Vec<u8>> {
    let rest = head.strip_prefix(b"HTTP/1.1 ")?;
    let status = std::str::from_utf8(rest.get(..3)?).ok()?;
    if !(status.starts_with('4') || status.starts_with('5')) {
        return None;
    }
    let text = std::str::from_utf8(head).ok()?.to_ascii_lowercase();
    if !text.contains("\r\ncontent-length: 0\r\n") {
        return None;
    }
    let (code, message) = match status {
        "431" => (
            "headers_too_large",
            "the request's headers are too large or too many (at most 100 headers, about 400 KB)",
        ),
        "408" => (
            "timeout",
            "the request's headers did not arrive in time (`--header-timeout`)",
        ),
        "414" => ("uri_too_long", "the request's URI is too long"),
        "400" => ("bad_request", "the request is not valid HTTP/1.1"),
        _ => ("bad_request", "the request was refused before it was read"),
    };
    // The status line's reason, as hyper wrote it.
    let reason = std::str::from_utf8(head)
        .ok()
        .and_then(|h| h.lines().next())
        .and_then(|l| l.get(13..))
        .unwrap_or("")
        .trim();
    let body = serde_json::json!({"error": {"code": code, "message": message, "details": null}})
        .to_string();
    Some(
        format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.moved();
        }
        r
    }
}

impl Watched {
    /// Writes the rest of the replacement answer; ready once it is all out.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, done)) = &mut self.pending {
            if *done == bytes.len() {
                self.pending = None;
                break;
            }
            match Pin::new(&mut self.inner).poll_write(cx, &bytes[*done..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *done += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.pending.is_none()
            && let Some(answer) = replacement(buf)
        {
            self.pending = Some((answer, 0));
        }
        if self.pending.is_some() {
            // hyper's answer is taken as written once the replacement is.
            return match self.poll_pending(cx) {
                Poll::Ready(Ok(())) => {
                    self.moved();
                    Poll::Ready(Ok(buf.len()))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            };
        }
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.moved();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // hyper's bodiless answers are one buffer: the head.
        if (bufs.len() == 1 || self.pending.is_some())
            && let Some(first) = bufs.iter().find(|b| !b.is_empty())
        {
            return self.poll_write(cx, first);
        }
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.moved();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.poll_pending(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.poll_pending(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_bodiless_errors_are_replaced() {
        let hyper =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let answer = String::from_utf8(replacement(hyper).unwrap()).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            "{answer}"
        );
        let (_, body) = answer.split_once("\r\n\r\n").unwrap();
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "headers_too_large");
        assert!(answer.contains(&format!("content-length: {}\r\n", body.len())));
        assert!(replacement(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(replacement(b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 80\r\n\r\n").is_none());
        assert!(replacement(b"{\"a\": 1}").is_none());
    }

    #[test]
    fn the_open_file_limit_is_read() {
        if cfg!(target_os = "linux") {
            assert!(open_file_limit().is_some_and(|n| n > 0));
        }
    }
}
