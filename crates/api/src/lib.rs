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

pub use depot_service::{AuthConfig, AuthMode, ReplicaState, SweepOptions, SweepReport};
pub use settings::{GcSettings, GrpcSettings, Limits, MetricsSettings, ServerSettings, ServingSettings, Settings};
pub use startup::Application;

/// Creates an admin token (the admin role on every model) for `principal` directly in the
/// database, for an operator locked out of the API (every admin token lost or revoked). The
/// audit log records it as made by `depot-cli`. Returns the token's text.
pub async fn create_admin_token(settings: &Settings, principal: &str, name: &str) -> anyhow::Result<String> {
    use depot_domain::{Grant, ModelPattern, Principal, Role};
    use depot_service::{Actor, Auth, Catalog, TokenRequest};
    let principal = Principal::parse(principal)?;
    let catalog =
        Catalog::connect(&settings.database).await.map_err(|e| anyhow::anyhow!(depot_service::error_chain(&e)))?;
    let auth = Auth::new(catalog.clone(), settings.auth.clone(), Default::default());
    let request = TokenRequest {
        name: name.to_owned(),
        principal,
        grants: vec![Grant::new(Role::Admin, ModelPattern::any())],
        expires_at: None,
    };
    let created = auth.create_token(&Actor::system("depot-cli"), request).await;
    catalog.close().await;
    Ok(created.map_err(|e| anyhow::anyhow!(e.chain()))?.text)
}

/// Sweeps the artifact store once (see `depot gc`): orphan blobs and abandoned uploads.
/// `None` when a replica is sweeping now.
pub async fn collect_garbage(
    settings: &Settings,
    options: depot_service::SweepOptions,
) -> anyhow::Result<Option<depot_service::SweepReport>> {
    use depot_service::{ArtifactStore, Catalog};
    let store = ArtifactStore::from_config(&settings.storage)
        .map_err(|e| anyhow::anyhow!("opening artifact storage: {}", depot_service::error_chain(&e)))?;
    let catalog =
        Catalog::connect(&settings.database).await.map_err(|e| anyhow::anyhow!(depot_service::error_chain(&e)))?;
    let report = depot_service::sweep(&catalog, &store, options).await;
    catalog.close().await;
    report.map_err(|e| anyhow::anyhow!(e.chain()))
}

/// Creates the database if missing and applies pending migrations, then exits.
pub async fn migrate(config: &depot_service::DatabaseConfig) -> anyhow::Result<()> {
    depot_service::migrate(config).await.map_err(|e| anyhow::anyhow!(e.chain()))
}
