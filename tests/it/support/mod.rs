#![allow(dead_code)]
pub mod admin;
pub mod app;
pub mod cli;
#[macro_use]
pub mod db;
pub mod fixtures;
pub mod ops;
pub mod panel;
pub mod proxy;
