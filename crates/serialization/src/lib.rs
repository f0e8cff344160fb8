//! Recognises an uploaded model artifact from its bytes, and reads an ONNX model's signature.
//!
//! [`inspect`] reads an upload once, front to back, from any [`Read`], and says which
//! [`ArtifactFormat`] it is. For ONNX it also reads the IR version, the opsets, the producer and
//! the graph's inputs and outputs as a [`Signature`]; whether the model can be served follows
//! from those ([`Inspection::servable`]).
//!
//! # Streaming and bounded
//! Uploads can be gigabytes, and the server reads them through [`inspect`] while hashing and
//! storing the same bytes elsewhere. So `inspect` never seeks, never holds the artifact, and may
//! stop reading as soon as it knows the answer. Memory depends on [`InspectLimits`], not on the
//! size of the upload: an ONNX model is walked field by field with a hand-written protobuf
//! wire-format reader that skips the weights, and archives are walked header by header.
//! Hostile, truncated or garbage input is an [`InspectError`], never a panic.
//!
//! # What is recognised, and how
//! - ONNX: a `ModelProto` that starts, as every exporter writes it, with `ir_version`
//!   (byte `0x08`). An upload that starts so but does not parse is [`InspectError::CorruptOnnx`].
//! - Pickle: the protocol 2–5 header, or the usual openings of protocols 0 and 1.
//! - Joblib: a pickle that mentions joblib early on, or a pickle compressed with zlib, gzip,
//!   bzip2, xz or lzma (joblib's `compress=` options).
//! - SavedModel: a zip or tar archive (plain or compressed as above) with a `saved_model.pb`.
//!
//! Pickles, joblib files and SavedModels are recognised by byte patterns only: nothing here
//! deserializes, imports or runs them.
//!
//! # What this crate must not know
//! HTTP, SQL, object storage and ONNX Runtime. It turns bytes into domain values
//! ([`depot_domain`]) and errors; mapping those errors to HTTP statuses is the API crate's job,
//! and running a model is the runtime crate's.

mod archive;
mod compressed;
mod detect;
pub mod inference;
mod input;
pub mod object;
mod onnx;
mod pickle;
pub mod tensors;

use std::io::Read;

use depot_domain::{ArtifactFormat, Signature};
use serde::{Deserialize, Serialize};

use crate::input::Metered;

/// Bounds on what [`inspect`] reads and holds. Exceeding one is [`InspectError::LimitExceeded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InspectLimits {
    /// The most bytes read from the upload, and the most decompressed from a compressed archive.
    pub max_artifact_bytes: u64,
    /// The most bytes of an ONNX model read into memory, all together: its graph inputs and
    /// outputs, opset imports and names, including every initializer's name (kept to tell
    /// weights from inputs). Also the largest tar extended header read.
    pub max_message_bytes: usize,
    /// The deepest nesting of a declared type: `tensor(float)` is 1,
    /// `seq(map(int64,tensor(float)))` is 3.
    pub max_depth: usize,
    /// The most values of one kind: graph inputs and outputs together, opset imports, archive
    /// entries examined.
    pub max_values: usize,
}

impl Default for InspectLimits {
    /// 4 GiB artifacts, 4 MiB messages, type depth 32, 4096 values.
    fn default() -> Self {
        Self { max_artifact_bytes: 4 << 30, max_message_bytes: 4 << 20, max_depth: 32, max_values: 4096 }
    }
}

/// What an ONNX model says about itself, besides its signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnnxInfo {
    /// The ONNX IR version (`ModelProto.ir_version`).
    pub ir_version: i64,
    /// The operator sets the model imports, in file order, exact repeats removed.
    pub opsets: Vec<Opset>,
    /// The exporter, such as `pytorch` or `skl2onnx`; `None` when absent or empty.
    pub producer_name: Option<String>,
    pub producer_version: Option<String>,
    /// `GraphProto.name`; `None` when absent or empty.
    pub graph_name: Option<String>,
}

/// One operator set a model imports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Opset {
    /// The operator domain; `""` is the default `ai.onnx` domain.
    pub domain: String,
    pub version: i64,
}

/// What an upload was recognised as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspection {
    pub format: ArtifactFormat,
    /// For ONNX, what the model says about itself.
    pub onnx: Option<OnnxInfo>,
    /// For ONNX, the graph's inputs (less those that are initializers) and outputs.
    pub signature: Option<Signature>,
}

impl Inspection {
    /// A format that is stored and never read further.
    fn stored(format: ArtifactFormat) -> Self {
        Self { format, onnx: None, signature: None }
    }

    /// Whether Depot can serve this artifact: an ONNX model whose inputs and outputs are all
    /// tensors of supported element types.
    pub fn servable(&self) -> bool {
        self.unservable_reason().is_none()
    }

    /// Why the artifact cannot be served, in words for the person who uploaded it; `None` when
    /// it can.
    pub fn unservable_reason(&self) -> Option<String> {
        match self.format {
            ArtifactFormat::Onnx => match &self.signature {
                Some(signature) => signature.unservable_reason(),
                None => Some("the ONNX model's signature could not be read".to_owned()),
            },
            ArtifactFormat::Pickle => Some("pickle artifacts are stored but never deserialized or served".to_owned()),
            ArtifactFormat::Joblib => Some("joblib artifacts are stored but never deserialized or served".to_owned()),
            ArtifactFormat::SavedModel => Some(
                "TensorFlow SavedModel artifacts are stored but not served; export the model to ONNX to serve it"
                    .to_owned(),
            ),
        }
    }
}

/// Why an upload could not be inspected.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The bytes match no accepted format.
    #[error(
        "the artifact is not in an accepted format: {detail}. Accepted: {}",
        ArtifactFormat::accepted_description()
    )]
    Unrecognised { detail: String },
    /// The upload starts like an ONNX model but is not a valid one.
    #[error("the ONNX model is corrupt: {reason}")]
    CorruptOnnx { reason: String },
    /// The upload exceeds one of the [`InspectLimits`].
    #[error("the artifact exceeds the inspection limit on {what} ({limit})")]
    LimitExceeded { what: &'static str, limit: u64 },
    /// Reading the upload failed.
    #[error("reading the artifact failed")]
    Io(#[from] std::io::Error),
}

/// Recognises the artifact that `reader` yields, reading it sequentially.
///
/// Reads no further than needed: all of an ONNX model, an archive up to its `saved_model.pb`,
/// the first 64 KiB of a pickle (1 MiB if compressed). The caller must not rely on `reader`
/// being drained.
pub fn inspect<R: Read>(reader: R, limits: &InspectLimits) -> Result<Inspection, InspectError> {
    let mut input = Metered::new(reader, limits.max_artifact_bytes);
    let result = detect::detect(&mut input, limits);
    // Whatever error the overrun turned into on its way up, the limit is the reason.
    if input.exceeded() {
        return Err(InspectError::LimitExceeded { what: "artifact bytes", limit: limits.max_artifact_bytes });
    }
    result
}

#[cfg(test)]
mod tests;
