//! Serving connections with their costs bounded, so that idle or slow clients cannot take the
//! shop down: a client has [`Limits::header_timeout`] to send a request's headers (also between
//! requests on a kept-alive connection: an idle socket is closed then), at most
//! [`Limits::max_connections`] are served at once (further ones wait in the listen queue
//! instead of failing with "too many open files"), and request bodies have their own deadline
//! ([`crate::web::transport`]). At start the open-file limit is raised to what the system
//! allows and the connection cap is kept below it.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// Files kept for everything but client connections: the database, the search index, logs,
/// outgoing calls.
const RESERVED_FILES: u64 = 64;

/// How connections are bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

/// Raises this process's open-file limit to the hard limit and answers how many connections
/// fit under it (`wanted`, when set and lower).
pub fn connection_cap(wanted: Option<usize>) -> usize {
    let limit = raise_open_file_limit();
    cap_under(limit, wanted)
}

/// The connection cap under an open-file limit: what is left after the reserve, at least 16.
pub fn cap_under(open_files: Option<u64>, wanted: Option<usize>) -> usize {
    let room = open_files
        .map(|n| n.saturating_sub(RESERVED_FILES).max(16))
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(usize::MAX);
    wanted.unwrap_or(4096).min(room)
}

/// Sets the soft open-file limit to the hard one; answers the limit now in force.
fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let current = getrlimit(Resource::Nofile);
    if current.maximum.is_some() && current.current != current.maximum {
        let raised = Rlimit {
            current: current.maximum,
            maximum: current.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => {
                tracing::info!(
                    from = current.current,
                    to = current.maximum,
                    "raised the open-file limit"
                );
                return current.maximum;
            }
            Err(error) => tracing::warn!(%error, "could not raise the open-file limit"),
        }
    }
    current.current
}

/// Serves `router` on `listener` until `shutdown` completes, then lets the requests in flight
/// finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    let mut warned_full = false;
    loop {
        // Wait for room first: while the shop is full, new connections wait in the listen
        // queue, where they cost no file of ours.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of files or a connection reset before it was taken: wait a little
                    // rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let full = permits.available_permits() == 0;
        if full && !warned_full {
            tracing::warn!(
                max = limits.max_connections,
                "serving as many connections as allowed; new ones wait"
            );
        }
        warned_full = full;
        let _ = stream.set_nodelay(true);
        let service = router
            .clone()
            .map_request(move |mut request: axum::extract::Request| {
                request.extensions_mut().insert(ConnectInfo(remote));
                request
            });
        let service = TowerToHyperService::new(service.map_request(
            |request: http::Request<hyper::body::Incoming>| request.map(axum::body::Body::new),
        ));
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .keep_alive(true);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            let mut connection = pin!(connection);
            tokio::select! {
                result = connection.as_mut() => log_end(result, remote),
                () = async { drop(stop.wait_for(|stop| *stop).await) } => {
                    connection.as_mut().graceful_shutdown();
                    log_end(connection.await, remote);
                }
            }
        });
    }
    let _ = stop_tx.send(true);
    // Requests in flight finish: every connection gives its permit back when it closes.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(Duration::from_secs(30), permits.acquire_many(all)).await;
}

fn log_end(result: Result<(), hyper::Error>, remote: SocketAddr) {
    if let Err(error) = result {
        // A client that went quiet, closed early or sent nonsense: its doing, not the shop's.
        tracing::debug!(%remote, %error, "connection ended");
    }
}

#[cfg(test)]
mod tests {
    use super::cap_under;

    #[test]
    fn connections_stay_below_the_open_file_limit() {
        assert_eq!(cap_under(Some(1024), None), 960);
        assert_eq!(cap_under(Some(1024), Some(100)), 100);
        assert_eq!(cap_under(Some(1_048_576), None), 4096);
        assert_eq!(
            cap_under(Some(40), None),
            16,
            "a tiny limit still serves some"
        );
        assert_eq!(cap_under(None, Some(500)), 500, "no limit known");
    }
}
