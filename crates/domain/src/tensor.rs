use std::fmt;

use serde::{Deserialize, Serialize};

/// Element type of a tensor, named as the Open Inference Protocol names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DataType {
    Bool,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Int8,
    Int16,
    Int32,
    Int64,
    Fp16,
    Bf16,
    Fp32,
    Fp64,
    Bytes,
}

impl DataType {
    pub const ALL: [DataType; 14] = [
        Self::Bool,
        Self::Uint8,
        Self::Uint16,
        Self::Uint32,
        Self::Uint64,
        Self::Int8,
        Self::Int16,
        Self::Int32,
        Self::Int64,
        Self::Fp16,
        Self::Bf16,
        Self::Fp32,
        Self::Fp64,
        Self::Bytes,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bool => "BOOL",
            Self::Uint8 => "UINT8",
            Self::Uint16 => "UINT16",
            Self::Uint32 => "UINT32",
            Self::Uint64 => "UINT64",
            Self::Int8 => "INT8",
            Self::Int16 => "INT16",
            Self::Int32 => "INT32",
            Self::Int64 => "INT64",
            Self::Fp16 => "FP16",
            Self::Bf16 => "BF16",
            Self::Fp32 => "FP32",
            Self::Fp64 => "FP64",
            Self::Bytes => "BYTES",
        }
    }

    pub fn parse(input: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == input)
    }

    /// Bytes per element in the binary tensor encoding; `None` for variable-length BYTES.
    pub fn element_size(self) -> Option<usize> {
        match self {
            Self::Bool | Self::Uint8 | Self::Int8 => Some(1),
            Self::Uint16 | Self::Int16 | Self::Fp16 | Self::Bf16 => Some(2),
            Self::Uint32 | Self::Int32 | Self::Fp32 => Some(4),
            Self::Uint64 | Self::Int64 | Self::Fp64 => Some(8),
            Self::Bytes => None,
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of value a model input or output is. Only tensors can be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TensorKind {
    Tensor,
    SparseTensor,
    Sequence,
    Map,
    Optional,
    Unknown,
}

/// One input or output of a model, as read from the artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorSpec {
    pub name: String,
    pub kind: TensorKind,
    /// Element type, when the value is a tensor of a type Depot knows.
    pub datatype: Option<DataType>,
    /// Dimensions, `-1` for a dynamic one; `None` when the model does not declare its rank.
    pub shape: Option<Vec<i64>>,
    /// The symbolic name of each dynamic dimension (`batch`, `N`), `None` where fixed or unnamed.
    pub dim_names: Vec<Option<String>>,
    /// The declared type as the format spells it, such as `tensor(float)` or
    /// `seq(map(int64,tensor(float)))`.
    pub type_name: String,
}

impl TensorSpec {
    /// A plain tensor with the given dimensions (`-1` dynamic).
    pub fn tensor(name: impl Into<String>, datatype: DataType, shape: Vec<i64>) -> Self {
        let dim_names = vec![None; shape.len()];
        Self {
            name: name.into(),
            kind: TensorKind::Tensor,
            datatype: Some(datatype),
            shape: Some(shape),
            dim_names,
            type_name: format!("tensor({})", datatype.as_str().to_lowercase()),
        }
    }

    pub fn is_servable(&self) -> bool {
        self.kind == TensorKind::Tensor && self.datatype.is_some()
    }
}

/// The inputs and outputs of a model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
}

impl Signature {
    /// Every input and output is a tensor of a known element type.
    pub fn is_servable(&self) -> bool {
        !self.outputs.is_empty() && self.inputs.iter().chain(&self.outputs).all(TensorSpec::is_servable)
    }

    /// Why the signature cannot be served, for the first offending value.
    pub fn unservable_reason(&self) -> Option<String> {
        if self.outputs.is_empty() {
            return Some("the model declares no outputs".to_owned());
        }
        self.inputs.iter().chain(&self.outputs).find(|s| !s.is_servable()).map(|s| {
            format!(
                "'{}' has type {}, and only tensors of the supported element types can be served",
                s.name, s.type_name
            )
        })
    }

    pub fn input(&self, name: &str) -> Option<&TensorSpec> {
        self.inputs.iter().find(|s| s.name == name)
    }

    pub fn output(&self, name: &str) -> Option<&TensorSpec> {
        self.outputs.iter().find(|s| s.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datatype_names_round_trip_and_sizes() {
        for d in DataType::ALL {
            assert_eq!(DataType::parse(d.as_str()), Some(d));
            let json = serde_json::to_string(&d).expect("serialize");
            assert_eq!(json, format!("\"{}\"", d.as_str()));
        }
        assert_eq!(DataType::Fp32.element_size(), Some(4));
        assert_eq!(DataType::Bytes.element_size(), None);
    }

    #[test]
    fn servability_requires_tensor_outputs() {
        let mut sig = Signature {
            inputs: vec![TensorSpec::tensor("x", DataType::Fp32, vec![-1, 4])],
            outputs: vec![TensorSpec::tensor("y", DataType::Fp32, vec![-1, 3])],
        };
        assert!(sig.is_servable());
        assert_eq!(sig.unservable_reason(), None);
        sig.outputs[0].kind = TensorKind::Sequence;
        sig.outputs[0].type_name = "seq(map(int64,tensor(float)))".into();
        assert!(!sig.is_servable());
        assert!(sig.unservable_reason().is_some_and(|r| r.contains("seq(map")));
        assert!(!Signature::default().is_servable());
    }
}
