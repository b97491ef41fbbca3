//! The HTTP server loop. `axum::serve` has no header read timeout and no
//! shutdown deadline: a client that sends part of its headers and stops
//! holds a connection (and a file descriptor) for good, and a graceful
//! shutdown waits for it forever. Here every connection must deliver its
//! headers within `HEADER_TIMEOUT` and its body within `BODY_TIMEOUT`
//! (see `web::router`), and shutdown waits at most its deadline.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Longest a client may take to send a request's headers (also the idle
/// time allowed between requests on a kept-alive connection).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `stop` is cancelled, then lets the
/// requests in progress finish for at most `deadline`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    stop: CancellationToken,
    deadline: Duration,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, don't spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => break,
        };
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            // Peer addresses feed the panel's login limits.
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(remote));
            router.clone().oneshot(request.map(axum::body::Body::new))
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::trace!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(deadline) => {
            tracing::warn!(deadline_s = deadline.as_secs(), "requests still running at the shutdown deadline; closing them");
        }
    }
    Ok(())
}
