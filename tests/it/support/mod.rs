#![allow(dead_code)]
pub mod admin;
pub mod app;
pub mod browser;
pub mod cli;
pub mod crawl_seed;
#[macro_use]
pub mod db;
pub mod fixtures;
pub mod media;
pub mod ops;
pub mod panel;
pub mod payments;
pub mod providers;
pub mod proxy;
pub mod reminders;
