//! Background work: planning reminders, sending the outbox, handling inbound
//! messages. Every job re-reads the database before acting, so a job
//! delivered twice does its work once.

pub mod ingest;
pub mod pacer;
pub mod plan;
pub mod queue;
pub mod remind;
pub mod retry;
pub mod send;
pub mod worker;

use std::sync::Arc;

use crate::config::Config;
use crate::domain::Clock;
use crate::store::{Store, StoreError};
use crate::templates::{TemplateError, Templates};
use crate::whatsapp::Provider;

pub use pacer::Pacer;
pub use queue::JobQueue;

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
