#![allow(dead_code)]
pub mod admin;
pub mod app;
pub mod db;
pub mod ops;
pub mod panel;
