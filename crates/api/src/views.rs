//! The JSON shapes of the API, with their OpenAPI schemas. Domain types stay free of HTTP
//! concerns; these views are built from them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use depot_catalog::{AuditEntry, Model, Version};
use depot_domain::{Signature, TensorKind, TensorSpec, VersionMetadata};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelView {
    #[schema(example = "fraud-detector")]
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    /// How many versions the model has now.
    pub version_count: i64,
    /// The highest version number registered and not deleted.
    pub latest_version: Option<u32>,
}

impl From<Model> for ModelView {
    fn from(m: Model) -> Self {
        Self {
            name: m.name.to_string(),
            description: m.description,
            tags: m.tags,
            created_at: m.created_at,
            created_by: m.created_by,
            updated_at: m.updated_at,
            version_count: m.version_count,
            latest_version: m.latest_version,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    pub models: Vec<ModelView>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateModel {
    /// 1-128 characters: lowercase letters, digits, `-`, `_`, `.`; starting with a letter or digit.
    #[schema(example = "fraud-detector")]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateModel {
    pub description: Option<String>,
    /// Replaces all tags.
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListModelsQuery {
    /// Only models whose name starts with this.
    pub prefix: Option<String>,
    /// Only models carrying this tag.
    pub tag: Option<String>,
    /// Page size, 1-500 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeleteModelQuery {
    /// Also delete every version of the model (and every artifact no other version references).
    #[serde(default)]
    pub cascade: bool,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    Asc,
    #[default]
    Desc,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListVersionsQuery {
    /// Page size, 1-500 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `desc` (newest first, the default) or `asc`.
    #[param(inline)]
    pub order: Option<Order>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only changes to this model.
    pub model: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// One input or output of a model.
#[derive(Debug, Serialize, ToSchema)]
pub struct TensorSpecView {
    pub name: String,
    /// `tensor`, or what else the value is (`sequence`, `map`, ...); only tensors are served.
    #[schema(example = "tensor")]
    pub kind: String,
    /// Element type (`FP32`, `INT64`, `BOOL`, `BYTES`, ...), absent when not a known tensor type.
    #[schema(example = "FP32")]
    pub datatype: Option<String>,
    /// Dimensions, `-1` for a dynamic one; absent when the model does not declare its rank.
    #[schema(example = json!([-1, 4]))]
    pub shape: Option<Vec<i64>>,
    /// Symbolic name of each dimension, `null` where fixed or unnamed.
    pub dim_names: Vec<Option<String>>,
    /// The type as the artifact spells it, such as `tensor(float)`.
    #[schema(example = "tensor(float)")]
    pub type_name: String,
}

impl From<&TensorSpec> for TensorSpecView {
    fn from(s: &TensorSpec) -> Self {
        let kind = match s.kind {
            TensorKind::Tensor => "tensor",
            TensorKind::SparseTensor => "sparse_tensor",
            TensorKind::Sequence => "sequence",
            TensorKind::Map => "map",
            TensorKind::Optional => "optional",
            TensorKind::Unknown => "unknown",
        };
        Self {
            name: s.name.clone(),
            kind: kind.to_owned(),
            datatype: s.datatype.map(|d| d.as_str().to_owned()),
            shape: s.shape.clone(),
            dim_names: s.dim_names.clone(),
            type_name: s.type_name.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignatureView {
    pub inputs: Vec<TensorSpecView>,
    pub outputs: Vec<TensorSpecView>,
}

impl From<&Signature> for SignatureView {
    fn from(s: &Signature) -> Self {
        Self { inputs: s.inputs.iter().map(Into::into).collect(), outputs: s.outputs.iter().map(Into::into).collect() }
    }
}

/// Where a version came from.
#[derive(Debug, Serialize, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct LineageView {
    pub source_run: Option<String>,
    pub commit: Option<String>,
    pub dataset: Option<String>,
}

/// Free metadata about a version.
#[derive(Debug, Serialize, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct MetadataView {
    #[schema(example = "scikit-learn 1.7")]
    pub framework: Option<String>,
    #[serde(default)]
    #[schema(example = json!({"auc": 0.91}))]
    pub metrics: BTreeMap<String, f64>,
    #[serde(default)]
    #[schema(value_type = Object, example = json!({"max_depth": 8}))]
    pub parameters: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub lineage: LineageView,
}

impl From<VersionMetadata> for MetadataView {
    fn from(m: VersionMetadata) -> Self {
        Self {
            framework: m.framework,
            metrics: m.metrics,
            parameters: m.parameters,
            lineage: LineageView {
                source_run: m.lineage.source_run,
                commit: m.lineage.commit,
                dataset: m.lineage.dataset,
            },
        }
    }
}

impl From<MetadataView> for VersionMetadata {
    fn from(m: MetadataView) -> Self {
        Self {
            framework: m.framework,
            metrics: m.metrics,
            parameters: m.parameters,
            lineage: depot_domain::Lineage {
                source_run: m.lineage.source_run,
                commit: m.lineage.commit,
                dataset: m.lineage.dataset,
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    #[schema(example = "fraud-detector")]
    pub model: String,
    #[schema(example = 3)]
    pub version: u32,
    /// SHA-256 of the artifact; also its download's `ETag`.
    #[schema(example = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    pub digest: String,
    pub size_bytes: u64,
    /// `onnx`, `pickle`, `joblib` or `saved_model`.
    #[schema(example = "onnx")]
    pub format: String,
    /// Whether Depot can serve predictions from this version.
    pub servable: bool,
    /// Why not, when it cannot.
    pub unservable_reason: Option<String>,
    /// Inputs and outputs read from the artifact (ONNX only).
    pub signature: Option<SignatureView>,
    /// Format details read from the artifact: for ONNX, IR version, opsets and producer.
    #[schema(value_type = Option<Object>)]
    pub format_details: Option<serde_json::Value>,
    pub metadata: MetadataView,
    pub description: String,
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    /// Where to download the artifact.
    #[schema(example = "/v1/models/fraud-detector/versions/3/artifact")]
    pub artifact_url: String,
}

impl From<Version> for VersionView {
    fn from(v: Version) -> Self {
        Self {
            artifact_url: format!("/v1/models/{}/versions/{}/artifact", v.model, v.version),
            model: v.model.to_string(),
            version: v.version.get(),
            digest: v.digest.to_string(),
            size_bytes: v.size_bytes,
            format: v.format.as_str().to_owned(),
            servable: v.servable,
            unservable_reason: v.unservable_reason,
            signature: v.signature.as_ref().map(Into::into),
            format_details: v.format_details,
            metadata: v.metadata.into(),
            description: v.description,
            tags: v.tags,
            created_at: v.created_at,
            created_by: v.created_by,
            updated_at: v.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionList {
    pub versions: Vec<VersionView>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The `metadata` part of an upload.
#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UploadMetadata {
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub metadata: MetadataView,
    /// Expected SHA-256 of the artifact (hex, optionally `sha256:`-prefixed). When given and the
    /// upload's bytes differ, nothing is stored and the answer is 400 `digest_mismatch`.
    pub sha256: Option<String>,
}

/// A version upload: `multipart/form-data` with an optional `metadata` part (JSON, see
/// `UploadMetadata`) and one `artifact` part (the file).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// JSON text of an `UploadMetadata` object.
    #[schema(value_type = Option<String>, example = r#"{"description":"weekly retrain","tags":["prod"],"metadata":{"framework":"sklearn","metrics":{"auc":0.91}}}"#)]
    pub metadata: Option<String>,
    /// The model file.
    #[schema(value_type = String, format = Binary)]
    pub artifact: Vec<u8>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateVersion {
    pub description: Option<String>,
    /// Replaces all tags.
    pub tags: Option<Vec<String>>,
    /// Replaces the whole metadata document.
    pub metadata: Option<MetadataView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// Such as `model.create`, `version.create`, `version.delete`.
    pub action: String,
    pub model: String,
    pub version: Option<i32>,
    pub reason: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id,
            at: e.at,
            actor: e.actor,
            action: e.action,
            model: e.model,
            version: e.version,
            reason: e.reason,
            details: e.details,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    pub entries: Vec<AuditEntryView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `unready`.
    pub status: String,
    /// `ok` or what failed, per dependency (`database`, `storage`).
    #[schema(value_type = Object, example = json!({"database": "ok", "storage": "ok"}))]
    pub checks: BTreeMap<String, String>,
}

/// A model file's bytes.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ArtifactBytes(#[allow(dead_code)] pub Vec<u8>);
