//! The JSON shapes of the API, with their OpenAPI schemas. Domain types stay free of HTTP
//! concerns; these views are built from them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use depot_domain::{Signature, TensorKind, TensorSpec, VersionMetadata};
use depot_serialization::object::{object, objects, optional_object};
use depot_service::{AuditEntry, Model, Version};
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

/// A page of a model's serving history (always newest first).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Page size, 1-500 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
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
    #[serde(default, deserialize_with = "object")]
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
    /// Dynamic batching when serving; absent when off.
    pub batching: Option<BatchingView>,
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
            batching: v.batching.map(Into::into),
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
    #[serde(default, deserialize_with = "object")]
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
    #[serde(default, deserialize_with = "optional_object")]
    pub metadata: Option<MetadataView>,
    /// Turns dynamic batching on with this policy, or off with `null`.
    #[serde(default, deserialize_with = "present_object")]
    #[schema(value_type = Option<BatchingView>)]
    pub batching: Option<Option<BatchingView>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The principal of the token that made the change.
    pub actor: String,
    /// The id of that token (absent when authentication is off).
    pub token: Option<String>,
    /// Such as `model.create`, `version.create`, `version.delete`, `token.create`,
    /// `approval.approve`.
    pub action: String,
    /// The model changed; absent for changes to tokens.
    pub model: Option<String>,
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
            token: e.token,
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
    /// `/readyz`: `ready`, `starting` or `draining`; `/healthz/dependencies`: `ok` or
    /// `unavailable`.
    pub status: String,
    /// Each condition and its state (`/readyz`: `draining`, `deployed_versions`, `database`;
    /// `/healthz/dependencies`: `database` and `storage`, `ok` or `unreachable`).
    #[schema(value_type = Object, example = json!({"database": "ok", "storage": "ok"}))]
    pub checks: BTreeMap<String, String>,
}

/// A model file's bytes.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ArtifactBytes(#[allow(dead_code)] pub Vec<u8>);

/// A prediction request of the simple JSON API.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PredictRequest {
    /// Inputs by name: nested arrays, or `{"data": [...], "shape": [...]}`.
    #[schema(value_type = Object, example = json!({"x": [[5.1, 3.5, 1.4, 0.2]]}))]
    pub inputs: BTreeMap<String, serde_json::Value>,
}

/// A prediction: outputs by name, and the version that computed them.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct PredictResponse {
    pub model: String,
    pub version: u32,
    /// Outputs by name: `{"datatype": "FP32", "shape": [1, 3], "data": [[...]]}`.
    #[schema(value_type = Object, example = json!({"y": {"datatype": "FP32", "shape": [1, 3], "data": [[0.1, 0.7, 0.2]]}}))]
    pub outputs: BTreeMap<String, serde_json::Value>,
}

/// The Open Inference Protocol's error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct OipErrorBody {
    pub error: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OipServerMetadata {
    pub name: String,
    pub version: String,
    pub extensions: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OipTensorMetadata {
    pub name: String,
    #[schema(example = "FP32")]
    pub datatype: String,
    /// `-1` for a dynamic dimension.
    #[schema(example = json!([-1, 4]))]
    pub shape: Vec<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OipModelMetadata {
    pub name: String,
    pub versions: Vec<String>,
    #[schema(example = "onnxruntime_onnx")]
    pub platform: String,
    pub inputs: Vec<OipTensorMetadata>,
    pub outputs: Vec<OipTensorMetadata>,
}

/// An inference request tensor.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct OipRequestInput {
    pub name: String,
    pub shape: Vec<i64>,
    pub datatype: String,
    /// `{"binary_data_size": N}` when the tensor's bytes follow the JSON header.
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<serde_json::Value>,
    /// Row-major elements, flat or nested; absent with `binary_data_size`.
    #[schema(value_type = Option<Vec<Object>>)]
    pub data: Option<serde_json::Value>,
}

#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct OipRequestOutput {
    pub name: String,
    /// `{"binary_data": true}` to get this output as raw bytes.
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<serde_json::Value>,
}

/// An inference request (Open Inference Protocol v2).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct OipInferRequest {
    pub id: Option<String>,
    /// `{"binary_data_output": true}` to get every output as raw bytes.
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<serde_json::Value>,
    pub inputs: Vec<OipRequestInput>,
    pub outputs: Option<Vec<OipRequestOutput>>,
}

#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct OipResponseOutput {
    pub name: String,
    pub shape: Vec<i64>,
    pub datatype: String,
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<serde_json::Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub data: Option<serde_json::Value>,
}

/// An inference response (Open Inference Protocol v2).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct OipInferResponse {
    pub model_name: String,
    pub model_version: String,
    pub id: Option<String>,
    pub outputs: Vec<OipResponseOutput>,
}

/// Dynamic batching of a version when serving.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchingView {
    /// Most rows per inference run, 2-1024.
    #[schema(example = 32)]
    pub max_batch_size: u32,
    /// Longest a request waits for companions, 0-1000 ms (rounded up to the millisecond timer).
    /// 0 never waits: a batch is what queued while the version's sessions were busy.
    #[schema(example = 2)]
    pub max_queue_delay_ms: u32,
}

impl From<depot_domain::BatchPolicy> for BatchingView {
    fn from(p: depot_domain::BatchPolicy) -> Self {
        Self { max_batch_size: p.max_batch_size, max_queue_delay_ms: p.max_queue_delay_ms }
    }
}

impl From<BatchingView> for depot_domain::BatchPolicy {
    fn from(p: BatchingView) -> Self {
        Self { max_batch_size: p.max_batch_size, max_queue_delay_ms: p.max_queue_delay_ms }
    }
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`); the value must be a
/// JSON object (see `depot_serialization::object`).
fn present_object<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    optional_object(deserializer).map(Some)
}

/// A second version taking a share of the version-less traffic.
#[derive(Debug, Serialize, ToSchema)]
pub struct CanaryView {
    pub version: u32,
    /// Share of requests, 1-99.
    pub percent: u8,
}

/// What a model's version-less routes serve.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentView {
    pub model: String,
    pub version: u32,
    pub canary: Option<CanaryView>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

impl From<depot_service::Deployment> for DeploymentView {
    fn from(d: depot_service::Deployment) -> Self {
        Self {
            model: d.model.to_string(),
            version: d.version.get(),
            canary: d.canary.map(|c| CanaryView { version: c.version.get(), percent: c.percent }),
            updated_at: d.updated_at,
            updated_by: d.updated_by,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployRequest {
    /// The version to serve.
    pub version: u32,
    /// Why (audit log); overrides the x-depot-reason header.
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// Roll back to this version; by default to the one deployed before the current one.
    pub version: Option<u32>,
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CanaryRequest {
    pub version: u32,
    /// Share of version-less requests it gets, 1-99.
    pub percent: u8,
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AliasView {
    pub model: String,
    #[schema(example = "champion")]
    pub alias: String,
    pub version: u32,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

impl From<depot_service::Alias> for AliasView {
    fn from(a: depot_service::Alias) -> Self {
        Self {
            model: a.model.to_string(),
            alias: a.alias.to_string(),
            version: a.version.get(),
            updated_at: a.updated_at,
            updated_by: a.updated_by,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AliasList {
    pub aliases: Vec<AliasView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetAliasRequest {
    pub version: u32,
    pub reason: Option<String>,
}

/// One deployment or alias change.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntryView {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// The id of the token that made the change.
    pub token: Option<String>,
    /// `deployment.deploy`, `deployment.rollback`, `deployment.canary`, `deployment.promote`,
    /// `deployment.abort_canary`, `deployment.undeploy`, `alias.set` or `alias.delete`.
    pub action: String,
    /// The alias changed, for `alias.*`.
    pub alias: Option<String>,
    /// The version served (or pointed at) before.
    pub from: Option<i64>,
    /// The version served (or pointed at) after.
    pub to: Option<i64>,
    pub reason: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl From<AuditEntry> for HistoryEntryView {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id,
            at: e.at,
            actor: e.actor,
            token: e.token,
            alias: e.details["alias"].as_str().map(str::to_owned),
            from: e.details["from"].as_i64(),
            to: e.details["to"].as_i64(),
            action: e.action,
            reason: e.reason,
            details: e.details,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryList {
    pub entries: Vec<HistoryEntryView>,
    pub next_cursor: Option<String>,
}

/// A role on the models a pattern covers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantView {
    /// `reader`, `predictor`, `pusher`, `deployer` or `admin`.
    #[schema(example = "deployer")]
    pub role: String,
    /// `*`, a prefix followed by `*` (`fraud-*`), or an exact model name.
    #[schema(example = "fraud-*")]
    pub models: String,
}

impl From<&depot_domain::Grant> for GrantView {
    fn from(g: &depot_domain::Grant) -> Self {
        Self { role: g.role.as_str().to_owned(), models: g.models.to_string() }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// A name for the token, unique among the principal's live tokens.
    #[schema(example = "ci-deploy")]
    pub name: String,
    /// The person or service account the token acts as.
    #[schema(example = "ci-pipeline")]
    pub principal: String,
    #[serde(deserialize_with = "objects")]
    pub grants: Vec<GrantView>,
    /// When the token stops working; never when absent.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    /// The token's public id (the part after `depot_`); never the secret.
    #[schema(example = "3f9a0c12b7e4")]
    pub id: String,
    pub name: String,
    pub principal: String,
    pub grants: Vec<GrantView>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
}

impl From<depot_service::TokenRecord> for TokenView {
    fn from(t: depot_service::TokenRecord) -> Self {
        Self {
            grants: t.grants.iter().map(GrantView::from).collect(),
            id: t.id,
            name: t.name,
            principal: t.principal.to_string(),
            created_at: t.created_at,
            created_by: t.created_by,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
            revoked_by: t.revoked_by,
        }
    }
}

/// A token as created: the only time its text is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedTokenView {
    /// The token, to send as `Authorization: Bearer <token>`. Shown once; only a hash is kept.
    #[schema(example = "depot_3f9a0c12b7e4_…")]
    pub token: String,
    #[serde(flatten)]
    pub info: TokenView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListTokensQuery {
    /// Only this principal's tokens (an admin of every model may name any).
    pub principal: Option<String>,
    /// Include revoked tokens.
    #[serde(default)]
    pub include_revoked: bool,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Who the request's token is, and what it may do.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhoAmI {
    pub principal: String,
    /// The token's id; absent when authentication is off or no token was sent.
    pub token: Option<String>,
    pub grants: Vec<GrantView>,
}

/// Which of a model's serving pointers are protected.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProtectionView {
    /// Aliases only a deployer may move (a pusher may move the others).
    #[serde(default)]
    #[schema(example = json!(["production"]))]
    pub aliases: Vec<String>,
    /// Whether the deployment is protected (deploy, undeploy, canary, promote).
    #[serde(default)]
    pub deployment: bool,
    /// Whether a change to a protected alias or deployment waits for another principal's
    /// approval. Rolling back to a version deployed before, and aborting a canary, never wait.
    #[serde(default)]
    pub require_approval: bool,
}

impl From<depot_service::Protection> for ProtectionView {
    fn from(p: depot_service::Protection) -> Self {
        Self {
            aliases: p.aliases.iter().map(|a| a.to_string()).collect(),
            deployment: p.deployment,
            require_approval: p.require_approval,
        }
    }
}

/// A change to a protected alias or deployment, waiting for (or past) approval.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingChangeView {
    pub id: i64,
    pub model: String,
    /// `deploy`, `undeploy`, `canary`, `promote_canary`, `set_alias` or `delete_alias`.
    pub kind: String,
    /// The version it would deploy, canary or point the alias at.
    pub version: Option<u32>,
    pub alias: Option<String>,
    /// The canary's share.
    pub percent: Option<u8>,
    pub reason: Option<String>,
    pub proposed_by: String,
    pub proposed_token: Option<String>,
    pub proposed_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// `pending`, `approved`, `rejected` or `expired`.
    pub state: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_reason: Option<String>,
}

impl From<depot_service::PendingChange> for PendingChangeView {
    fn from(p: depot_service::PendingChange) -> Self {
        Self {
            id: p.id,
            model: p.model.to_string(),
            kind: p.kind.as_str().to_owned(),
            version: p.version.map(|v| v.get()),
            alias: p.alias.map(|a| a.to_string()),
            percent: p.percent,
            reason: p.reason,
            proposed_by: p.proposed_by,
            proposed_token: p.proposed_token,
            proposed_at: p.proposed_at,
            expires_at: p.expires_at,
            state: p.state,
            decided_by: p.decided_by,
            decided_at: p.decided_at,
            decision_reason: p.decision_reason,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PendingChangeList {
    pub changes: Vec<PendingChangeView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListApprovalsQuery {
    /// Only this model's changes.
    pub model: Option<String>,
    /// `pending`, `approved`, `rejected` or `expired`.
    pub state: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A count and a cumulative duration in nanoseconds, as Triton reports them.
#[derive(Debug, Serialize, ToSchema)]
pub struct OipStatDuration {
    pub count: u64,
    pub ns: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OipInferenceStats {
    pub success: OipStatDuration,
    pub fail: OipStatDuration,
    pub queue: OipStatDuration,
    pub compute_input: OipStatDuration,
    pub compute_infer: OipStatDuration,
    pub compute_output: OipStatDuration,
    pub cache_hit: OipStatDuration,
    pub cache_miss: OipStatDuration,
}

/// One version's statistics (Triton's statistics extension).
#[derive(Debug, Serialize, ToSchema)]
pub struct OipModelStats {
    pub name: String,
    pub version: String,
    /// When the last request ended, in ms since the Unix epoch (0: never).
    pub last_inference: u64,
    /// Requests run (a batch counts each of its requests).
    pub inference_count: u64,
    /// Session runs (a batch counts once).
    pub execution_count: u64,
    pub inference_stats: OipInferenceStats,
    /// Per batch size: not kept (empty).
    pub batch_stats: Vec<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OipStatistics {
    pub model_stats: Vec<OipModelStats>,
}

impl From<Vec<(depot_domain::ModelName, u32, std::sync::Arc<depot_service::VersionStats>)>> for OipStatistics {
    fn from(stats: Vec<(depot_domain::ModelName, u32, std::sync::Arc<depot_service::VersionStats>)>) -> Self {
        use std::sync::atomic::Ordering::Relaxed;
        let d = |count: &std::sync::atomic::AtomicU64, ns: &std::sync::atomic::AtomicU64| OipStatDuration {
            count: count.load(Relaxed),
            ns: ns.load(Relaxed),
        };
        let zero = || OipStatDuration { count: 0, ns: 0 };
        Self {
            model_stats: stats
                .into_iter()
                .map(|(name, version, s)| OipModelStats {
                    name: name.to_string(),
                    version: version.to_string(),
                    last_inference: s.last_inference_ms.load(Relaxed),
                    inference_count: s.inference_count.load(Relaxed),
                    execution_count: s.execution_count.load(Relaxed),
                    inference_stats: OipInferenceStats {
                        success: d(&s.success_count, &s.success_ns),
                        fail: d(&s.fail_count, &s.fail_ns),
                        queue: d(&s.queue_count, &s.queue_ns),
                        compute_input: zero(),
                        compute_infer: d(&s.compute_count, &s.compute_ns),
                        compute_output: zero(),
                        cache_hit: zero(),
                        cache_miss: zero(),
                    },
                    batch_stats: Vec::new(),
                })
                .collect(),
        }
    }
}
