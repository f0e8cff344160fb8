use std::fmt;

use serde::{Deserialize, Serialize};

/// What an artifact is, as recognised from its bytes at upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactFormat {
    /// An ONNX `ModelProto`; the only format Depot serves.
    Onnx,
    /// A Python pickle. Stored and recognised, never deserialized.
    Pickle,
    /// A joblib dump (a pickle, possibly compressed). Stored, never deserialized.
    Joblib,
    /// A TensorFlow SavedModel directory packed as a zip or (gzipped) tar archive.
    SavedModel,
}

impl ArtifactFormat {
    pub const ALL: [ArtifactFormat; 4] = [Self::Onnx, Self::Pickle, Self::Joblib, Self::SavedModel];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Onnx => "onnx",
            Self::Pickle => "pickle",
            Self::Joblib => "joblib",
            Self::SavedModel => "saved_model",
        }
    }

    pub fn parse(input: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == input)
    }

    /// Whether Depot can run this format at all (individual models may still be unservable).
    pub fn is_runnable(self) -> bool {
        matches!(self, Self::Onnx)
    }

    /// A short description of what the format must look like, for error messages.
    pub fn accepted_description() -> &'static str {
        "onnx (an ONNX ModelProto), pickle, joblib (plain or zlib/gzip/bz2/xz-compressed), \
         saved_model (a zip, tar or tar.gz archive holding saved_model.pb)"
    }
}

impl fmt::Display for ArtifactFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in ArtifactFormat::ALL {
            assert_eq!(ArtifactFormat::parse(f.as_str()), Some(f));
        }
        assert_eq!(ArtifactFormat::parse("tflite"), None);
        assert!(ArtifactFormat::Onnx.is_runnable());
        assert!(!ArtifactFormat::Pickle.is_runnable());
    }
}
