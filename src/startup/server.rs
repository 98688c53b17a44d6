//! The bound application: serve until a signal, drain, stop the workers.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_types::SdkConfig;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::assemble::prepare;
use super::error::StartupError;
use crate::api;
use crate::app::AppState;
use crate::config::Config;

pub struct Application {
    listener: TcpListener,
    state: AppState,
    shutdown_timeout: Duration,
    header_timeout: Duration,
    max_connections: usize,
    retention_sweep: Option<Duration>,
    audit_flush: Option<Duration>,
}

impl Application {
    /// Checks everything, then binds. Port 0 picks a free port; [`Application::port`] tells which.
    pub async fn build(config: Config, sdk: Option<SdkConfig>) -> Result<Self, StartupError> {
        let state = prepare(&config, sdk).await?;
        let addr = SocketAddr::new(config.server.host, config.server.port);
        let listener = TcpListener::bind(addr).await.map_err(|source| StartupError::Bind { addr, source })?;
        let server = &config.server;
        Ok(Self {
            listener,
            state,
            shutdown_timeout: server.shutdown_timeout,
            header_timeout: server.header_timeout,
            max_connections: server.max_connections,
            retention_sweep: config
                .security
                .retention_sweep_interval
                .filter(|_| config.security.retention_period.is_some()),
            audit_flush: config.storage.audit.as_ref().map(|a| a.flush_interval),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish (up to
    /// SHUTDOWN_TIMEOUT_SECS) and stops the inference workers.
    ///
    /// hyper serves each connection (axum's own `serve` offers no header-read timeout): HTTP/1 only
    /// (nginx speaks it upstream), headers must arrive within HTTP_HEADER_TIMEOUT_SECS (hyper also
    /// starts that timer while a keep-alive connection waits for its next request, so it bounds idle
    /// connections too), and at most MAX_CONNECTIONS are open; further ones wait in the backlog.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        tracing::info!("listening on http://{}", self.local_addr());
        let router = api::router(self.state.clone());
        let shared = self.state.shared.clone();
        let pruner = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                shared.prune();
            }
        });
        let sweeper = self.retention_sweep.map(|every| tokio::spawn(sweep_retention(self.state.clone(), every)));
        let audit = self.state.service.audit().clone();
        let flusher = self.audit_flush.and_then(|every| audit.spawn_flusher(every));
        let mut builder = Builder::new(TokioExecutor::new()).http1_only();
        builder.http1().timer(TokioTimer::new()).header_read_timeout(self.header_timeout);
        let connections = Arc::new(Semaphore::new(self.max_connections));
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                _ = &mut shutdown => break,
                permit = connections.clone().acquire_owned() => {
                    let permit = permit.expect("the connection semaphore is never closed");
                    tokio::select! {
                        _ = &mut shutdown => break,
                        accepted = self.listener.accept() => accepted.map(|a| (a, permit)),
                    }
                }
            };
            let ((stream, peer), permit) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let service = router.clone().map_request(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req.map(Body::new)
            });
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
                .into_owned();
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                drop(permit);
            });
        }
        tracing::info!("shutdown requested: draining in-flight requests");
        tokio::select! {
            _ = graceful.shutdown() => {}
            _ = tokio::time::sleep(self.shutdown_timeout) => {
                tracing::warn!("drain timeout reached; exiting with requests still in flight");
            }
        }
        pruner.abort();
        if let Some(sweeper) = sweeper {
            sweeper.abort();
        }
        // After the drain, so the records of the last requests are in the final object.
        if let Some(flusher) = flusher {
            flusher.abort();
            match audit.flush().await {
                Ok(n) => tracing::info!(records = n, "audit records flushed"),
                Err(e) => tracing::error!(error = %e, "audit records could NOT be written before stopping"),
            }
        }
        let service = self.state.service.clone();
        tokio::task::spawn_blocking(move || service.faces().shutdown()).await.ok();
        tracing::info!("stopped");
        Ok(())
    }
}

/// Resolves on SIGTERM (systemd stop) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// RETENTION_SWEEP_INTERVAL: the retention sweep inside the service, by one instance at a time: a
/// lease in the shared state (claimed for one interval, never released) picks the instance.
async fn sweep_retention(state: AppState, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let lease = format!("retention-sweep:{}", crate::token::now() / every.as_secs().max(1));
        match state.shared.claim(&lease, every).await {
            Ok(Some(claim)) => claim.spend(),
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(error = %crate::telemetry::chain(&e), "retention sweep skipped: no lease");
                continue;
            }
        }
        match state.service.retention_sweep(false, |_, _| {}).await {
            Ok(report) => tracing::info!(
                examined = report.examined,
                deleted = report.expired.len(),
                objects_removed = report.objects_removed,
                "retention sweep done"
            ),
            Err(e) => {
                tracing::warn!(error = %crate::telemetry::chain(&e), "retention sweep stopped; the next one resumes")
            }
        }
    }
}
