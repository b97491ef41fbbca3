//! The composition root's shared context: everything a job, a handler or
//! a command needs (`Services`), and the error they share. It sits below
//! every layer that uses it (`chat`, `jobs`, `web`, `cli`) and above those
//! it holds (`store`, `whatsapp`, `templates`, `domain`), so every import
//! points down.

use std::sync::Arc;

use crate::config::{Config, DatabaseUrl};
use crate::domain::Clock;
use crate::jobs::ingest;
use crate::jobs::{JobQueue, Pacer};
use crate::store::{Location, Store, StoreError};
use crate::templates::Templates;
use crate::whatsapp::Provider;

/// The error jobs, chat and handlers share (defined beside the queue, the
/// lowest layer that returns it).
pub use crate::jobs::error::JobError;

/// The configured database, as the store opens it.
impl<'a> From<&'a DatabaseUrl> for Location<'a> {
    fn from(url: &'a DatabaseUrl) -> Location<'a> {
        match url {
            DatabaseUrl::Sqlite { path } => Location::Sqlite(path),
            DatabaseUrl::Postgres { url } => Location::Postgres(url),
        }
    }
}

/// Everything a job needs, shared by the worker, the web handlers and the CLI.
#[derive(Debug, Clone)]
pub struct Services {
    pub config: Arc<Config>,
    /// The supervised background tasks' states, for `/healthz`.
    pub health: Arc<crate::health::Health>,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub provider: Arc<dyn Provider>,
    /// Each provider's webhook checks and parsing (every route is served
    /// whichever provider sends; an unset secret answers 503).
    pub webhooks: Arc<crate::whatsapp::WebhookSources>,
    pub templates: Arc<Templates>,
    /// The conversation's intents and menu, loaded and checked at start.
    pub flows: Arc<crate::conversation::Flows>,
    pub pacer: Arc<Pacer>,
    pub queue: JobQueue,
    /// Where the webhook hands inbound messages to be stored (group commit).
    pub ingest: ingest::Ingest,
    /// The generated secret key, once read (see [`Services::secret_key`]).
    pub generated_key: Arc<tokio::sync::OnceCell<Vec<u8>>>,
    /// Files fetched at once by this process: each holds up to 16 MB in
    /// memory until it is stored.
    pub media_slots: Arc<tokio::sync::Semaphore>,
    /// Payment links' checkouts and Mercado Pago's payments (HTTP).
    pub payments: Arc<crate::payments::Payments>,
}

/// Settings-table key of the generated secret key (when `AVISA_SECRET_KEY`
/// is unset).
pub const SETTING_SECRET_KEY: &str = "admin_secret_key";

impl Services {
    /// The key that signs panel session cookies and media links:
    /// `AVISA_SECRET_KEY`, else one generated on first use and kept in the
    /// `settings` table, so restarts (and other instances, and the jobs
    /// that sign links) agree on it.
    pub async fn secret_key(&self) -> Result<Vec<u8>, StoreError> {
        use secrecy::ExposeSecret;
        if let Some(key) = &self.config.secret_key {
            return Ok(key.expose_secret().as_bytes().to_vec());
        }
        self.generated_key
            .get_or_try_init(|| async {
                use base64::Engine as _;
                let mut bytes = [0u8; 32];
                rand::fill(&mut bytes[..]);
                let generated = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
                let stored = self
                    .store
                    .setting_or_insert(SETTING_SECRET_KEY, &generated, self.clock.now())
                    .await?;
                Ok(stored.into_bytes())
            })
            .await
            .cloned()
    }
}
