//! Building the whole service from a `Config`: store, queue, provider,
//! templates, HTTP server and background workers. Tests build exactly this.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::domain::{Clock, SystemClock};
use crate::health::Health;
use crate::jobs::ingest::Ingest;
use crate::jobs::{JobQueue, Pacer};
use crate::services::{JobError, Services};
use crate::store::{self, StoreError};
use crate::templates::{TemplateError, Templates};
use crate::whatsapp::{ConsoleProvider, Provider, WasenderInitError, WasenderProvider};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("WaSender client: {0}")]
    Provider(#[from] WasenderInitError),
    #[error("flows: {0}")]
    Flows(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("server: {0}")]
    Serve(#[source] std::io::Error),
}

/// What tests may replace: the clock (to choose "today").
#[derive(Debug, Clone)]
pub struct Overrides {
    pub clock: Arc<dyn Clock>,
}

impl Default for Overrides {
    fn default() -> Self {
        Overrides {
            clock: Arc::new(SystemClock),
        }
    }
}

fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (tests build many apps).
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

fn provider(config: &Config) -> Result<Arc<dyn Provider>, AppError> {
    Ok(match &config.wasender_api_key {
        Some(key) => Arc::new(WasenderProvider::new(
            config.wasender_base_url.clone(),
            key.clone(),
            config.wasender_timeout,
        )?),
        None => Arc::new(ConsoleProvider::new()),
    })
}

/// Opens the database (migrating it), the queue and everything jobs need.
pub async fn services(config: Config, overrides: Overrides) -> Result<Arc<Services>, AppError> {
    let store = store::connect(&config.database_url).await?;
    let queue = JobQueue::setup(&store.pool()).await?;
    let templates = Templates::load(config.locale, config.templates_dir.as_deref())?;
    let flows = crate::conversation::Flows::load(config.locale, config.flows_dir.as_deref())
        .map_err(|e| AppError::Flows(e.to_string()))?;
    let provider = provider(&config)?;
    let pacer = Pacer::new(
        config.send_interval,
        config.send_jitter,
        store.clone(),
        sending_account(&config),
        config.wasender_timeout,
    );
    let health = Health::new();
    let ingest = Ingest::start(
        store.clone(),
        overrides.clock.clone(),
        health.clone(),
        queue.wakeups.inbound.clone(),
    );
    let payments = Arc::new(crate::payments::Payments::new(&config.payments));
    Ok(Arc::new(Services {
        health,
        payments,
        config: Arc::new(config),
        store,
        clock: overrides.clock,
        provider,
        templates: Arc::new(templates),
        flows: Arc::new(flows),
        pacer: Arc::new(pacer),
        queue,
        ingest,
        generated_key: Arc::default(),
        media_slots: Arc::new(tokio::sync::Semaphore::new(
            crate::chat::media::FETCHES_AT_ONCE,
        )),
    }))
}

/// Which WhatsApp number sends (the pacing slot's key): a hash of the
/// provider's credentials, so the key itself is never stored.
fn sending_account(config: &Config) -> String {
    use secrecy::ExposeSecret;
    match &config.wasender_api_key {
        Some(key) => {
            let digest = Sha256::digest(key.expose_secret().as_bytes());
            let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
            format!("wasender:{hex}")
        }
        None => "console".to_string(),
    }
}

/// How long shutdown waits for requests and sends in progress; a send
/// still in flight then is recorded as `unknown`.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

pub struct Application {
    listener: TcpListener,
    services: Arc<Services>,
    port: u16,
}

/// Large buffers (a 16 MB file on its way into the database, and SQLite's
/// own copies of it on each connection's thread) are given back to the
/// system when freed. glibc's malloc otherwise raises its mmap threshold
/// after the first such buffer is freed and keeps later ones in the arena
/// of whichever thread freed them: 20 files of 16 MB arriving at once left
/// 330 MB resident instead of 150 MB (`benches/media.rs`). Buffers under
/// 1 MB are unaffected.
pub fn release_large_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets one of malloc's parameters, under
    // malloc's own lock; any value is valid for M_MMAP_THRESHOLD up to
    // 32 MB (a refused value leaves the default, which is harmless).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

impl Application {
    /// Builds the service and binds its port (use port 0 in tests).
    pub async fn build(config: Config, overrides: Overrides) -> Result<Application, AppError> {
        release_large_buffers();
        let addr = config.listen;
        let services = services(config, overrides).await?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| AppError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let port = listener.local_addr().map_err(AppError::Serve)?.port();
        Ok(Application {
            listener,
            services,
            port,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn services(&self) -> Arc<Services> {
        self.services.clone()
    }

    /// Serves HTTP and runs the workers until `stop` completes.
    pub async fn run_until_stopped(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), AppError> {
        let token = CancellationToken::new();
        warn_about_settings(&self.services);
        let mut workers = crate::workers::spawn_all(self.services.clone(), token.clone())?;
        let state = crate::web::WebState {
            services: self.services.clone(),
            metrics: metrics_handle(),
            admin: crate::web::admin::AdminState::default(),
        };
        // Generate (or read) the panel's cookie key now rather than on the first login.
        if let Err(e) = crate::web::admin::secret_key(&state).await {
            tracing::warn!(error = %e, "cannot prepare the staff panel's cookie key");
        }
        let app = crate::web::router(state);
        tracing::info!(port = self.port, "avisa is listening");
        let stopper = {
            let token = token.clone();
            tokio::spawn(async move {
                stop.await;
                tracing::info!("shutting down");
                token.cancel();
            })
        };
        let result = crate::web::serve::serve(self.listener, app, token.clone(), SHUTDOWN_DEADLINE)
            .await
            .map_err(AppError::Serve);
        stopper.abort();
        token.cancel();
        // Workers finish their current job, within the deadline.
        let finished = tokio::time::timeout(SHUTDOWN_DEADLINE, async {
            while workers.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            workers.abort_all();
            mark_unfinished_sends_unknown(&self.services).await;
        }
        result
    }
}

/// Sends this process started and could not finish before exiting: their
/// request may have reached WhatsApp, so they are `unknown`, not resent.
async fn mark_unfinished_sends_unknown(services: &Services) {
    for id in services.queue.sending_now() {
        let error = "interrupted by shutdown while sending: WhatsApp may have it; not resent";
        match services
            .store
            .mark_unknown(id, error, services.clock.now())
            .await
        {
            Ok(()) => tracing::warn!(
                message_id = id,
                "send interrupted by shutdown; marked unknown"
            ),
            Err(e) => {
                tracing::error!(message_id = id, error = %e, "cannot mark an interrupted send unknown")
            }
        }
    }
}

fn warn_about_settings(services: &Services) {
    let config = &services.config;
    if services.provider.is_console() {
        tracing::warn!(
            "WASENDER_API_KEY is not set: messages are printed to the console, not sent"
        );
    }
    if config.wasender_webhook_secret.is_none() {
        tracing::warn!("WASENDER_WEBHOOK_SECRET is not set: POST /webhooks/wasender answers 503");
    }
    if config.cron_token.is_none() {
        tracing::info!(
            "AVISA_CRON_TOKEN is not set: POST /cron/notifications is disabled (the built-in schedule runs)"
        );
    }
    if config.staff_phones.is_empty() {
        tracing::warn!(
            "AVISA_STAFF_PHONES is empty: nobody can use staff commands or receive notices"
        );
    }
}

/// Resolves on Ctrl-C or SIGTERM.
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
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
