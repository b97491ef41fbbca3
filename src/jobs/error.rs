//! The error background work, the conversation and the handlers share.

use crate::store::StoreError;
use crate::templates::TemplateError;

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
