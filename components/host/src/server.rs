//! The HTTP listener: accepts connections, hands each request to the [`App`], stops cleanly.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::app::App;
use crate::component::Origin;
use crate::error::{Error, Result};

/// A bound listener, ready to serve.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    app: Arc<App>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port).
    pub async fn bind(app: Arc<App>, addr: &str) -> Result<Self> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Listen {
                addr: addr.to_string(),
                source,
            })?;
        Ok(Self { listener, app })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener.local_addr().map_err(|source| Error::Listen {
            addr: "bound socket".into(),
            source,
        })
    }

    /// Serves until `shutdown` completes, then waits for requests in flight.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let graceful = GracefulShutdown::new();
        let builder = auto::Builder::new(TokioExecutor::new());
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => {
                    let (stream, client_addr) = match accepted {
                        Ok(pair) => pair,
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let app = self.app.clone();
                    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                        let app = app.clone();
                        async move {
                            let origin = Origin { client_addr, depth: 0 };
                            let answer = app.handle_external(req, origin).await;
                            Ok::<_, std::convert::Infallible>(app.durable(answer).await)
                        }
                    });
                    let conn = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(client = %client_addr, error = %e, "connection closed with an error");
                        }
                    });
                }
                () = &mut shutdown => break,
            }
        }
        tracing::info!("shutting down: waiting for requests in flight");
        tokio::select! {
            () = graceful.shutdown() => {}
            () = tokio::time::sleep(std::time::Duration::from_secs(10)) => {
                tracing::warn!("requests still in flight after 10 s; stopping anyway");
            }
        }
        Ok(())
    }
}

/// A future that completes on SIGINT or SIGTERM. The handlers are installed when this is
/// called (not when first polled), so a signal that arrives right after the host says it is
/// serving is caught, not fatal. Call it inside the tokio runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
