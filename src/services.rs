//! The composition root's shared context: everything a job, a handler or
//! a command needs (`Services`), and the error they share. It sits below
//! every layer that uses it (`chat`, `jobs`, `web`, `cli`) and above those
//! it holds (`store`, `whatsapp`, `templates`, `domain`), so every import
//! points down.

use std::sync::Arc;

use crate::config::Config;
use crate::domain::Clock;
use crate::jobs::ingest;
use crate::jobs::{JobQueue, Pacer};
use crate::store::{Store, StoreError};
use crate::templates::{TemplateError, Templates};
use crate::whatsapp::Provider;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("job queue: {0}")]
    Queue(String),
    #[error("conversation state: {0}")]
    State(String),
    #[error("webhook ingest: {0}")]
    Ingest(String),
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
