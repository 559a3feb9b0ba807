//! Serving connections with their costs bounded, so that idle or slow clients cannot take the
//! shop down: a client has [`Limits::header_timeout`] to send a request's headers (also between
//! requests on a kept-alive connection: an idle socket is closed then), at most
//! [`Limits::max_connections`] are served at once, and request bodies have their own deadline
//! ([`crate::web::transport`]). When the shop is full, a new connection takes the place of the
//! one idle longest (connected but with no request under way), so a flood of idle sockets
//! delays nobody; only when every connection is busy does a new one wait in the listen queue.
//! At start the open-file limit is raised to what the system allows and the connection cap is
//! kept below it.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, watch};
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
    let open = Arc::new(Open::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    let mut warned_full = false;
    loop {
        // With room, take the next connection. When full, take it anyway (one file of the
        // reserve) and close the connection idle longest to make room; if none is idle, it
        // waits for one to finish.
        let room = permits.clone().try_acquire_owned().ok();
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of files or a connection reset before it was taken: wait a little
                // rather than spin.
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let permit = match room {
            Some(permit) => {
                warned_full = false;
                permit
            }
            None => {
                if !warned_full {
                    tracing::warn!(
                        max = limits.max_connections,
                        "serving as many connections as allowed; idle ones make room for new ones"
                    );
                    warned_full = true;
                }
                if !open.close_longest_idle() {
                    tracing::debug!("every connection is busy; the new one waits for room");
                }
                tokio::select! {
                    permit = permits.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let connection = open.add();
        let service = {
            let (router, connection) = (router.clone(), connection.clone());
            tower::service_fn(move |request: http::Request<hyper::body::Incoming>| {
                let (router, busy) = (router.clone(), connection.start());
                async move {
                    let mut request = request.map(axum::body::Body::new);
                    request.extensions_mut().insert(ConnectInfo(remote));
                    let response = router.oneshot(request).await?;
                    // Busy until the whole body is sent (a large file to a slow phone).
                    Ok::<_, std::convert::Infallible>(
                        response.map(|body| axum::body::Body::new(Sending { body, _busy: busy })),
                    )
                }
            })
        };
        let service = TowerToHyperService::new(service);
        let (mut stop, open) = (stop_rx.clone(), open.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .keep_alive(true);
            let served = builder.serve_connection(TokioIo::new(stream), service);
            let mut served = pin!(served);
            tokio::select! {
                result = served.as_mut() => log_end(result, remote),
                () = connection.close.notified() => {
                    tracing::debug!(%remote, "closed an idle connection to make room");
                }
                () = async { drop(stop.wait_for(|stop| *stop).await) } => {
                    served.as_mut().graceful_shutdown();
                    log_end(served.await, remote);
                }
            }
            open.remove(connection.id);
        });
    }
    let _ = stop_tx.send(true);
    // Requests in flight finish: every connection gives its permit back when it closes.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(Duration::from_secs(30), permits.acquire_many(all)).await;
}

/// The connections being served, for finding the one idle longest.
#[derive(Default)]
struct Open {
    next: AtomicU64,
    all: Mutex<HashMap<u64, Arc<Connection>>>,
}

/// One connection: how many of its requests are under way, since when it has had none, and
/// how to close it.
struct Connection {
    id: u64,
    busy: AtomicUsize,
    idle_since: Mutex<Instant>,
    close: Notify,
}

impl Open {
    fn add(&self) -> Arc<Connection> {
        let connection = Arc::new(Connection {
            id: self.next.fetch_add(1, Ordering::Relaxed),
            busy: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            close: Notify::new(),
        });
        self.lock().insert(connection.id, connection.clone());
        connection
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Closes the connection that has been idle longest, if one is; answers whether one was.
    fn close_longest_idle(&self) -> bool {
        let mut all = self.lock();
        let idle = all
            .values()
            .filter(|c| c.busy.load(Ordering::Acquire) == 0)
            .min_by_key(|c| *c.idle_since.lock().unwrap_or_else(|e| e.into_inner()))
            .cloned();
        match idle {
            Some(connection) => {
                all.remove(&connection.id);
                // Stored if its task is not waiting yet: it closes as soon as it looks.
                connection.close.notify_one();
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Connection>>> {
        self.all.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Connection {
    /// A request began; it ends when the guard is dropped.
    fn start(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::AcqRel);
        Busy(self.clone())
    }
}

/// A request under way on its connection.
struct Busy(Arc<Connection>);

impl Drop for Busy {
    fn drop(&mut self) {
        *self.0.idle_since.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its connection busy until it is sent or dropped.
struct Sending {
    body: axum::body::Body,
    _busy: Busy,
}

impl axum::body::HttpBody for Sending {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
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
