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
use crate::store::{Location, Store};
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
    pub templates: Arc<Templates>,
    /// The conversation's intents and menu, loaded and checked at start.
    pub flows: Arc<crate::conversation::Flows>,
    pub pacer: Arc<Pacer>,
    pub queue: JobQueue,
    /// Where the webhook hands inbound messages to be stored (group commit).
    pub ingest: ingest::Ingest,
}
