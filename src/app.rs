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
use crate::whatsapp::{
    CloudProvider, CloudSettings, CloudWebhook, ConsoleProvider, Provider, ProviderKind,
    WahaProvider, WahaWebhook, WasenderInitError, WasenderProvider, WasenderWebhook,
    WebhookSources,
};

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
    /// The chosen provider refused one of its settings.
    #[error("AVISA_PROVIDER: {0}")]
    ProviderSetting(String),
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

/// The provider `AVISA_PROVIDER` chose. Config checked that its settings
/// are present; a value the provider still refuses stops start-up here.
fn provider(config: &Config) -> Result<Arc<dyn Provider>, AppError> {
    let p = &config.provider;
    let timeout = config.wasender_timeout;
    let missing = |name: &'static str| AppError::ProviderSetting(format!("{name} is not set"));
    Ok(match p.kind {
        ProviderKind::Console => Arc::new(ConsoleProvider::new()),
        ProviderKind::Wasender => {
            let key = config
                .wasender_api_key
                .clone()
                .ok_or_else(|| missing("WASENDER_API_KEY"))?;
            Arc::new(WasenderProvider::new(
                config.wasender_base_url.clone(),
                key,
                timeout,
            )?)
        }
        ProviderKind::Cloud => Arc::new(
            CloudProvider::new(CloudSettings {
                base_url: p.cloud_base_url.clone(),
                api_version: p.cloud_api_version.clone(),
                phone_number_id: p
                    .cloud_phone_number_id
                    .clone()
                    .ok_or_else(|| missing("WHATSAPP_PHONE_NUMBER_ID"))?,
                token: p
                    .cloud_token
                    .clone()
                    .ok_or_else(|| missing("WHATSAPP_TOKEN"))?,
                templates: p.cloud_templates.clone(),
                timeout,
            })
            .map_err(|e| AppError::ProviderSetting(e.to_string()))?,
        ),
        ProviderKind::Waha => Arc::new(
            WahaProvider::new(
                p.waha_base_url
                    .clone()
                    .ok_or_else(|| missing("WAHA_BASE_URL"))?,
                p.waha_api_key.clone(),
                p.waha_session.clone(),
                timeout,
            )
            .map_err(|e| AppError::ProviderSetting(e.to_string()))?,
        ),
    })
}

/// Every provider's webhook source, from the settings.
fn webhook_sources(config: &Config) -> WebhookSources {
    let p = &config.provider;
    WebhookSources {
        wasender: Box::new(WasenderWebhook::new(config.wasender_webhook_secret.clone())),
        cloud: CloudWebhook::new(p.cloud_app_secret.clone(), p.cloud_verify_token.clone())
            .for_number(p.cloud_phone_number_id.clone()),
        waha: Box::new(
            WahaWebhook::new(p.waha_webhook_hmac_key.clone()).for_session(p.waha_session.clone()),
        ),
    }
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
    let webhooks = Arc::new(webhook_sources(&config));
    Ok(Arc::new(Services {
        health,
        payments,
        config: Arc::new(config),
        store,
        clock: overrides.clock,
        provider,
        webhooks,
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

/// Which WhatsApp number sends (the pacing slot's key, shared by every
/// process on the database): a hash of what names the number, so no
/// credential is ever stored.
fn sending_account(config: &Config) -> String {
    use secrecy::ExposeSecret;
    let hash = |text: &str| -> String {
        let digest = Sha256::digest(text.as_bytes());
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    };
    let p = &config.provider;
    match p.kind {
        ProviderKind::Wasender => match &config.wasender_api_key {
            Some(key) => format!("wasender:{}", hash(key.expose_secret())),
            None => "console".to_string(),
        },
        ProviderKind::Cloud => format!(
            "cloud:{}",
            p.cloud_phone_number_id.as_deref().unwrap_or_default()
        ),
        ProviderKind::Waha => format!(
            "waha:{}",
            hash(&format!(
                "{}|{}",
                p.waha_base_url.as_ref().map_or("", |u| u.as_str()),
                p.waha_session
            ))
        ),
        ProviderKind::Console => "console".to_string(),
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
        tokio::spawn(check_session(self.services.clone()));
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

/// How long the start-up session check waits for the provider.
const SESSION_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Asks the provider once, at start, whether its session can send, and
/// records the answer like a `session.status` event: a session found down
/// holds sending at once instead of failing every message until a webhook
/// says so. An unanswered check changes nothing.
async fn check_session(services: Arc<Services>) {
    if services.provider.is_console() {
        return;
    }
    let report =
        tokio::time::timeout(SESSION_CHECK_TIMEOUT, services.provider.session_state()).await;
    match report {
        Ok(Ok(report)) => {
            tracing::info!(
                provider = services.provider.kind().code(),
                connected = report.connected,
                status = %report.raw,
                "WhatsApp session checked"
            );
            if let Err(e) =
                crate::web::session_status(&services, report.connected, &report.raw).await
            {
                tracing::warn!(error = %e, "cannot record the session state");
            }
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot read the WhatsApp session state"),
        Err(_) => tracing::warn!("the WhatsApp provider did not answer the session check"),
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
    match services.provider.kind() {
        ProviderKind::Console => tracing::warn!(
            "AVISA_PROVIDER is console (or WASENDER_API_KEY is not set): messages are printed to the console, not sent"
        ),
        ProviderKind::Wasender if config.wasender_webhook_secret.is_none() => {
            tracing::warn!(
                "WASENDER_WEBHOOK_SECRET is not set: POST /webhooks/wasender answers 503"
            );
        }
        ProviderKind::Cloud if config.provider.cloud_templates.is_empty() => tracing::warn!(
            "no WHATSAPP_TEMPLATE_* is set: reminders to customers silent for 24 hours will fail"
        ),
        _ => {}
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
