//! Background work: planning reminders, sending the outbox, handling inbound
//! messages. Every job re-reads the database before acting, so a job
//! delivered twice does its work once.

pub mod pacer;
pub mod plan;
