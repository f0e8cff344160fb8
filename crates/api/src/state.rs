use depot_service::Services;

use crate::Limits;

/// What every handler shares: the use cases and the request limits. Cheap to clone; holds no
/// registry state of its own.
#[derive(Debug, Clone)]
pub struct AppState {
    pub services: Services,
    pub limits: Limits,
}
