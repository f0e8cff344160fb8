//! Depot's domain types: model names, version numbers, content digests, artifact formats,
//! tensor specs and signatures, version metadata.
//!
//! Every value that comes from outside is validated once, here, by a `parse` constructor, and
//! carried as a newtype afterwards; a request's tensors become [`ValidatedInputs`] once they fit
//! the model's signature. This crate does no I/O and knows nothing of HTTP, SQL,
//! object storage or ONNX Runtime.

mod auth;
mod batching;
mod digest;
mod error_chain;
mod format;
mod metadata;
mod name;
mod tensor;
mod tensor_data;

pub use auth::{AuthValueError, Grant, Grants, ModelPattern, Permission, Principal, Role, TokenText, hash_secret};
pub use batching::{BatchPolicy, BatchPolicyError};
pub use digest::{Digest, DigestError, Sha256Hasher};
pub use error_chain::error_chain;
pub use format::ArtifactFormat;
pub use metadata::{Lineage, MetadataError, VersionMetadata, check_text};
pub use name::{AliasName, ModelName, NameError, Tag, Tags, VersionNumber, VersionRef};
pub use tensor::{DataType, Signature, TensorKind, TensorSpec};
pub use tensor_data::{
    Dims, NameList, NamedTensor, Tensor, TensorData, ValidatedInputs, ValidationError, validate_inputs,
};
