//! Banyan: a strangler-fig reverse proxy that moves rotki's Python backend to Rust one
//! endpoint at a time. Each request is matched against the routes of `flags.toml`, a
//! decision picks the native Rust handler or the legacy server, and the answer carries
//! `x-banyan-backend` so everyone can see who served it. See `docs/architecture.md`.

pub mod access;
pub mod admin;
pub mod app;
pub mod audit;
pub mod body;
pub mod cli;
pub mod config;
pub mod db;
pub mod decide;
pub mod failure;
pub mod flags;
pub mod inventory;
pub mod ip;
pub mod legacy;
pub mod location;
pub mod native;
pub mod passthrough;
pub mod proxy;
pub mod record;
pub mod replay;
pub mod request;
pub mod rollout;
pub mod rotki;
pub mod routes;
pub mod server;
pub mod session;
pub mod shadow;
pub mod stats;
pub mod tasks_bridge;
pub mod upstream;
pub mod webapp;
pub mod ws;
