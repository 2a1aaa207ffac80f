//! The HTTP tracker's socket driver (BEP 3, 48): HTTP/1.1 over hyper, each request answered
//! by [`Tracker::handle_http`].
//!
//! hyper directly rather than axum: the tracker has two routes and answers them from one match,
//! so a router would only add a layer per request. Connections are kept alive (wrk, libtorrent
//! and aria2 reuse them), `TCP_NODELAY` is set because every answer is one small write, and a
//! client that sends no complete request head within 30 s is dropped (slow-loris). On shutdown
//! the listener closes and open connections are dropped: announces are idempotent, a client
//! whose request was cut retries.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::Tracker;

/// How long a connection may take to send a request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest request head read (a scrape naming 100 info-hashes is about 6 KiB).
const MAX_HEAD: usize = 16 * 1024;

fn respond(
    tracker: &Tracker,
    request: &Request<hyper::body::Incoming>,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = Response::new(Full::new(Bytes::from_static(b"GET only\n")));
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        return response;
    }
    let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let answer = tracker.handle_http(Instant::now(), target.as_bytes(), peer);
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(answer.content_type));
    if let Some(seconds) = answer.retry_after {
        headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// Serves `/announce` and `/scrape` on `listener` until `shutdown` resolves.
///
/// Errors accepting a connection (out of file descriptors, say) are waited out, not returned:
/// the tracker keeps serving the connections it has.
pub async fn serve_http(
    listener: TcpListener,
    tracker: Arc<Tracker>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut connections = JoinSet::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .keep_alive(true)
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEAD);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            // Reap finished connections so the set does not grow with every client.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        // Best effort: an answer is still sent without it, a little later.
        let _ = stream.set_nodelay(true);
        let tracker = Arc::clone(&tracker);
        let connection = builder.serve_connection(
            TokioIo::new(stream),
            hyper::service::service_fn(move |request| {
                let response = respond(&tracker, &request, peer);
                async move { Ok::<_, Infallible>(response) }
            }),
        );
        connections.spawn(async move {
            // A connection ends in an error when the client resets it or times out: nothing
            // to do about it here.
            let _ = connection.await;
        });
    }
    connections.shutdown().await;
    Ok(())
}
