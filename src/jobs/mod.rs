//! Background work: planning reminders, sending the outbox, handling inbound
//! messages. Every job re-reads the database before acting, so a job
//! delivered twice does its work once.

pub mod error;
pub mod ingest;
pub mod pacer;
pub mod plan;
pub mod queue;
pub mod remind;
pub mod remind_now;
pub mod retry;
pub mod send;

pub use pacer::Pacer;
pub use queue::JobQueue;
