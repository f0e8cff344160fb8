//! Following serving changes made through other replicas.

use std::time::{Duration, Instant};

use depot_catalog::Notification;
use depot_domain::ModelName;

use super::{Serving, target_of};
use crate::auth::Auth;
use crate::error::Error;

/// On each serving change announced through PostgreSQL, loads what the model now serves and
/// then switches to it; on each token change, drops the cached token. While the notification
/// stream is down (the database cannot be reached), the replica serves what it last knew
/// (`ReplicaState::following` is false) and the listener reconnects every half second; once it
/// is back, everything cached is re-read on its next use (changes may have been missed).
pub(super) async fn follow_changes(serving: Serving, auth: Auth) {
    loop {
        match serving.catalog.listen_changes().await {
            Ok(mut listener) => {
                serving.resolver.expire_serving();
                auth.forget_tokens();
                serving.metrics.reconnected();
                serving.replica.set_following(true);
                tracing::info!("following the database's changes");
                loop {
                    match listener.recv().await {
                        Ok(Notification::Serving(model)) => {
                            let serving = serving.clone();
                            tokio::spawn(async move { refresh(&serving, &model).await });
                        }
                        Ok(Notification::Token(id)) => auth.forget_token(&id),
                        Err(error) => {
                            serving.replica.set_following(false);
                            tracing::warn!(
                                error = %error,
                                "the database's notifications stopped: serving what this replica last knew until it is back"
                            );
                            break;
                        }
                    }
                }
            }
            Err(error) => {
                if serving.replica.set_following(false) {
                    tracing::warn!(error = %error, "cannot listen for the database's changes; retrying");
                } else {
                    tracing::debug!(error = %error, "cannot listen for the database's changes; retrying");
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn refresh(serving: &Serving, model: &str) {
    let Ok(model) = ModelName::parse(model) else { return };
    let result = async {
        let started = Instant::now();
        let deployment = serving.catalog.get_deployment(&model).await?;
        let aliases = serving.catalog.list_aliases(&model).await?;
        if let Some(deployment) = &deployment {
            // Load before switching; a version that cannot load keeps the old target served.
            serving.preload(&model, deployment.version).await?;
        }
        serving.resolver.install_deployment(&model, deployment.as_ref().map(target_of), started);
        if let Some(deployment) = &deployment {
            // From the change's commit (its row's time) to this replica serving it.
            let delay = (chrono::Utc::now() - deployment.updated_at).to_std().unwrap_or_default();
            serving.metrics.followed(delay);
        }
        for alias in aliases {
            serving.resolver.install_alias(&model, &alias.alias, alias.version, started);
        }
        Ok::<_, Error>(())
    }
    .await;
    match result {
        Ok(()) => tracing::debug!(model.name = %model, "followed a serving change"),
        Err(error) => {
            tracing::warn!(model.name = %model, error = %error.chain(), "could not follow a serving change; re-reading on demand");
            serving.resolver.expire_serving();
        }
    }
}
