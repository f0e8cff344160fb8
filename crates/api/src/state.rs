use std::sync::Arc;

use depot_catalog::Catalog;
use depot_runtime::Runtime;
use depot_serialization::InspectLimits;
use depot_storage::ArtifactStore;

use crate::Limits;
use crate::serving::Resolver;

/// What every handler shares. Cheap to clone; holds no registry state of its own.
#[derive(Debug, Clone)]
pub struct AppState {
    pub catalog: Catalog,
    pub store: ArtifactStore,
    pub limits: Limits,
    pub runtime: Runtime,
    pub resolver: Arc<Resolver>,
}

impl AppState {
    pub fn inspect_limits(&self) -> InspectLimits {
        InspectLimits {
            max_artifact_bytes: self.limits.max_artifact_bytes,
            max_message_bytes: self.limits.max_onnx_message_bytes,
            max_depth: self.limits.max_onnx_depth,
            max_values: self.limits.max_onnx_values,
        }
    }
}
