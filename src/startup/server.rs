//! The bound application: serve until a signal, drain, stop the workers.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_types::SdkConfig;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use super::{StartupError, prepare};
use crate::api;
use crate::app::AppState;
use crate::config::Config;

pub struct Application {
    listener: TcpListener,
    state: AppState,
    shutdown_timeout: Duration,
}

impl Application {
    /// Checks everything, then binds. Port 0 picks a free port; [`Application::port`] tells which.
    pub async fn build(config: Config, sdk: Option<SdkConfig>) -> Result<Self, StartupError> {
        let state = prepare(&config, sdk).await?;
        let addr = SocketAddr::new(config.server.host, config.server.port);
        let listener = TcpListener::bind(addr).await.map_err(|source| StartupError::Bind { addr, source })?;
        Ok(Self { listener, state, shutdown_timeout: config.server.shutdown_timeout })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish (up to
    /// SHUTDOWN_TIMEOUT_SECS) and stops the inference workers.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        tracing::info!("listening on http://{}", self.local_addr());
        let draining = Arc::new(Notify::new());
        let notify = draining.clone();
        let router = api::router(self.state.clone());
        let limits = self.state.limits.clone();
        let pruner = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                limits.prune();
            }
        });
        let server = axum::serve(self.listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!("shutdown requested: draining in-flight requests");
                notify.notify_one();
            });
        let deadline = async {
            draining.notified().await;
            tokio::time::sleep(self.shutdown_timeout).await;
        };
        let result = tokio::select! {
            r = server => r,
            _ = deadline => {
                tracing::warn!("drain timeout reached; exiting with requests still in flight");
                Ok(())
            }
        };
        pruner.abort();
        let service = self.state.service.clone();
        tokio::task::spawn_blocking(move || service.shutdown()).await.ok();
        tracing::info!("stopped");
        result
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
