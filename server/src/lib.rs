//! The portal server: configuration, the embedded database, the HTTP API and UI, and the
//! portal's own telemetry. `main.rs` only reads settings and runs an [`startup::Application`].
#![recursion_limit = "512"]

pub mod accounts;
pub mod admission;
pub mod alerting;
pub mod audit;
pub mod config;
pub mod dashboards;
pub mod demo;
pub mod embedded;
pub mod error;
pub mod fast_hash;
#[doc(hidden)]
pub mod fuzzing;
// A fuzz build (`--cfg fuzzing`, see fuzz/run.sh) links the decoders and parsers alone: the HTTP
// layer renders the whole UI, whose instrumented build outgrows the machine's memory.
#[cfg(not(fuzzing))]
pub mod http;
pub mod ingest;
pub mod instance;
pub mod labels;
pub mod logs;
pub mod otlp;
pub mod portal_metrics;
pub mod query;
pub mod render;
pub mod scrape;
#[cfg(not(fuzzing))]
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tsdb;
pub mod workers;
