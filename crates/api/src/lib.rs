//! Depot's HTTP API and the application that wires it to the use cases.
//!
//! Handlers parse a request, call one use case of `depot-service` and render its answer; every
//! failure becomes one JSON error body ([`error`]), and every request one log line
//! ([`telemetry`]). The routes are declared once, for actix and for the OpenAPI document
//! ([`openapi`]).
//!
//! This is the only crate that knows actix-web and utoipa. It holds no state of its own beyond
//! the handles in `AppState`: every replica is interchangeable.

mod auth;
pub mod error;
pub mod openapi;
mod request;
mod routes;
pub mod settings;
mod startup;
mod state;
pub mod telemetry;
mod upload;
mod views;

pub use depot_service::{AuthConfig, AuthMode};
pub use settings::{Limits, ServerSettings, ServingSettings, Settings};
pub use startup::Application;

/// Creates the database if missing and applies pending migrations, then exits.
pub async fn migrate(config: &depot_service::DatabaseConfig) -> anyhow::Result<()> {
    depot_service::migrate(config).await.map_err(|e| anyhow::anyhow!(e.chain()))
}
