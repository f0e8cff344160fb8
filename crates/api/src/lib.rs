//! Depot's HTTP API and the application that wires the crates together.
//!
//! Handlers parse and validate requests, call the catalog, the artifact store and the
//! serialization crate, and turn every failure into one JSON error body ([`error`]). The OpenAPI
//! document is generated from the handlers' annotations ([`openapi::ApiDoc`]).
//!
//! This is the only crate that knows actix-web and utoipa. It holds no state of its own beyond
//! the handles in [`state::AppState`]: every replica is interchangeable.

pub mod error;
pub mod openapi;
mod request;
mod request_span;
mod routes;
mod serving;
pub mod settings;
mod startup;
mod state;
mod upload;
mod views;

pub use settings::{Limits, ServerSettings, ServingSettings, Settings};
pub use startup::Application;

/// Creates the database if missing and applies pending migrations.
pub async fn migrate(config: &depot_catalog::DatabaseConfig) -> anyhow::Result<()> {
    let catalog = depot_catalog::Catalog::connect(config).await?;
    catalog.migrate().await?;
    catalog.close().await;
    Ok(())
}
