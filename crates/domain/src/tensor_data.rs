//! Owned tensor values, as requests carry them and the runtime returns them, and their
//! validation against a model's [`Signature`].

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;

use crate::tensor::{DataType, Signature, TensorSpec};

/// The elements of a tensor, in row-major order, one variant per element type Depot serves.
///
/// FP16 and BF16 have no variant: Depot does not serve models whose inputs or outputs use them.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    Bool(Vec<bool>),
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    /// Variable-length byte strings (ONNX `tensor(string)`).
    Bytes(Vec<Vec<u8>>),
}

/// Applies `$body` to the vector inside any [`TensorData`] variant.
macro_rules! each_variant {
    ($data:expr, $v:ident => $body:expr) => {
        match $data {
            TensorData::Bool($v) => $body,
            TensorData::U8($v) => $body,
            TensorData::U16($v) => $body,
            TensorData::U32($v) => $body,
            TensorData::U64($v) => $body,
            TensorData::I8($v) => $body,
            TensorData::I16($v) => $body,
            TensorData::I32($v) => $body,
            TensorData::I64($v) => $body,
            TensorData::F32($v) => $body,
            TensorData::F64($v) => $body,
            TensorData::Bytes($v) => $body,
        }
    };
}

impl TensorData {
    /// The element type of this data.
    pub fn datatype(&self) -> DataType {
        match self {
            Self::Bool(_) => DataType::Bool,
            Self::U8(_) => DataType::Uint8,
            Self::U16(_) => DataType::Uint16,
            Self::U32(_) => DataType::Uint32,
            Self::U64(_) => DataType::Uint64,
            Self::I8(_) => DataType::Int8,
            Self::I16(_) => DataType::Int16,
            Self::I32(_) => DataType::Int32,
            Self::I64(_) => DataType::Int64,
            Self::F32(_) => DataType::Fp32,
            Self::F64(_) => DataType::Fp64,
            Self::Bytes(_) => DataType::Bytes,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        each_variant!(self, v => v.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `len` zeros (`false`, empty strings) of `datatype`; `None` for FP16 and BF16, which have
    /// no variant.
    pub fn zeros(datatype: DataType, len: usize) -> Option<Self> {
        Some(match datatype {
            DataType::Bool => Self::Bool(vec![false; len]),
            DataType::Uint8 => Self::U8(vec![0; len]),
            DataType::Uint16 => Self::U16(vec![0; len]),
            DataType::Uint32 => Self::U32(vec![0; len]),
            DataType::Uint64 => Self::U64(vec![0; len]),
            DataType::Int8 => Self::I8(vec![0; len]),
            DataType::Int16 => Self::I16(vec![0; len]),
            DataType::Int32 => Self::I32(vec![0; len]),
            DataType::Int64 => Self::I64(vec![0; len]),
            DataType::Fp32 => Self::F32(vec![0.0; len]),
            DataType::Fp64 => Self::F64(vec![0.0; len]),
            DataType::Bytes => Self::Bytes(vec![Vec::new(); len]),
            DataType::Fp16 | DataType::Bf16 => return None,
        })
    }

    /// Whether Depot can carry values of `datatype` in a [`TensorData`].
    pub fn supports(datatype: DataType) -> bool {
        !matches!(datatype, DataType::Fp16 | DataType::Bf16)
    }
}

/// An owned tensor: its dimensions and its elements in row-major order.
///
/// The fields are public and not checked against each other on construction; a tensor that
/// came from outside is checked by [`validate_inputs`] before it is used, and carried as
/// [`ValidatedInputs`] afterwards.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: TensorData,
}

impl Tensor {
    pub fn new(shape: Vec<usize>, data: TensorData) -> Self {
        Self { shape, data }
    }

    pub fn datatype(&self) -> DataType {
        self.data.datatype()
    }

    /// Number of elements in the data (not necessarily the shape's product; see
    /// [`Tensor::is_consistent`]).
    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The number of elements the shape holds, `None` when that overflows `usize`.
    pub fn element_count(shape: &[usize]) -> Option<usize> {
        shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
    }

    /// The data holds exactly as many elements as the shape says.
    pub fn is_consistent(&self) -> bool {
        Self::element_count(&self.shape) == Some(self.len())
    }
}

/// A tensor with the name of the model input or output it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub tensor: Tensor,
}

impl NamedTensor {
    pub fn new(name: impl Into<String>, tensor: Tensor) -> Self {
        Self { name: name.into(), tensor }
    }
}

/// Why a request's inputs do not fit the model's signature. Each message names the input and
/// says what was expected and what was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("unknown input {name:?}: the model's inputs are {}", NameList(expected))]
    UnknownInput { name: String, expected: Vec<String> },
    #[error("input {name:?} is given more than once")]
    DuplicateInput { name: String },
    #[error("input {name:?} is missing: the model's inputs are {}", NameList(expected))]
    MissingInput { name: String, expected: Vec<String> },
    #[error("input {name:?} has type {type_name}, which Depot cannot serve")]
    UnsupportedInput { name: String, type_name: String },
    #[error("input {name:?} has datatype {actual}, but the model expects {expected}")]
    DatatypeMismatch { name: String, expected: DataType, actual: DataType },
    #[error(
        "input {name:?} has {actual} dimensions (shape {}), but the model expects {expected} (shape {}, -1 for any size)",
        Dims(actual_shape),
        Dims(expected_shape)
    )]
    RankMismatch { name: String, expected: usize, actual: usize, expected_shape: Vec<i64>, actual_shape: Vec<usize> },
    #[error(
        "input {name:?} has size {actual} in dimension {axis}, but the model expects {expected} (shape {}, -1 for any size)",
        Dims(expected_shape)
    )]
    DimensionMismatch { name: String, axis: usize, expected: i64, actual: usize, expected_shape: Vec<i64> },
    #[error("input {name:?} has shape {}, which holds {expected} elements, but {actual} were given", Dims(shape))]
    LengthMismatch { name: String, shape: Vec<usize>, expected: usize, actual: usize },
    #[error("input {name:?} has shape {}, which is too large to address", Dims(shape))]
    ShapeTooLarge { name: String, shape: Vec<usize> },
    #[error(
        "input {name:?} has size {actual} in dimension {axis} ({symbol:?}), but input {other:?} has {symbol:?} = {expected}; \
         inputs that share a named dimension must agree on its size"
    )]
    SymbolMismatch { name: String, axis: usize, symbol: String, other: String, expected: usize, actual: usize },
}

/// Formats dimensions as `[2, 4]` in error messages.
#[derive(Debug)]
pub struct Dims<'a, T>(pub &'a [T]);

impl<T: fmt::Display> fmt::Display for Dims<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

/// Formats names as `"a", "b"`, or `(none)`, in error messages.
#[derive(Debug)]
pub struct NameList<'a>(pub &'a [String]);

impl fmt::Display for NameList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(none)");
        }
        for (i, n) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{n:?}")?;
        }
        Ok(())
    }
}

/// Checks that `inputs` are exactly the signature's inputs, each with the declared datatype,
/// rank and fixed dimensions, with as many elements as its shape holds, and that inputs sharing
/// a named dynamic dimension (such as `batch`) agree on its size.
///
/// Errors are reported in a stable order: unknown and duplicate names first (in request
/// order), then missing inputs (in signature order), then each input's contents (in request
/// order).
pub fn validate_inputs(signature: &Signature, inputs: &[NamedTensor]) -> Result<(), ValidationError> {
    let expected_names = || signature.inputs.iter().map(|s| s.name.clone()).collect::<Vec<_>>();

    let mut specs = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let Some(spec) = signature.input(&input.name) else {
            return Err(ValidationError::UnknownInput { name: input.name.clone(), expected: expected_names() });
        };
        if inputs[..i].iter().any(|earlier| earlier.name == input.name) {
            return Err(ValidationError::DuplicateInput { name: input.name.clone() });
        }
        specs.push(spec);
    }
    if let Some(missing) = signature.inputs.iter().find(|s| !inputs.iter().any(|i| i.name == s.name)) {
        return Err(ValidationError::MissingInput { name: missing.name.clone(), expected: expected_names() });
    }

    // symbol -> (input that first gave it a size, the size)
    let mut symbols: HashMap<&str, (&str, usize)> = HashMap::new();
    for (input, spec) in inputs.iter().zip(specs) {
        validate_one(spec, input)?;
        let Some(declared) = &spec.shape else { continue };
        let dims = declared.iter().zip(&spec.dim_names).zip(&input.tensor.shape);
        for (axis, ((&dim, name), &actual)) in dims.enumerate() {
            let (Some(symbol), true) = (name, dim < 0) else { continue };
            match symbols.entry(symbol) {
                Entry::Vacant(e) => {
                    e.insert((&input.name, actual));
                }
                Entry::Occupied(e) => {
                    let &(other, expected) = e.get();
                    if expected != actual {
                        return Err(ValidationError::SymbolMismatch {
                            name: input.name.clone(),
                            axis,
                            symbol: symbol.clone(),
                            other: other.to_owned(),
                            expected,
                            actual,
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

/// Inputs that have passed [`validate_inputs`] against a signature, held in the signature's
/// input order.
///
/// [`ValidatedInputs::new`] is the only way to make one, so holding one proves the inputs were
/// validated; a consumer need not validate them again. It does not say against which signature:
/// a consumer that serves several can compare [`ValidatedInputs::as_slice`]'s names with its own
/// signature's input names, in order.
///
/// The default is no inputs at all, what a signature without inputs accepts; it lets a decoder
/// move the inputs out of a larger request (`std::mem::take`), and a runtime serving a signature
/// with inputs refuses it by that name check.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ValidatedInputs {
    inputs: Vec<NamedTensor>,
}

impl ValidatedInputs {
    /// Validates `inputs` (in any order) against `signature` with [`validate_inputs`], then
    /// orders them as the signature lists its inputs.
    pub fn new(signature: &Signature, inputs: Vec<NamedTensor>) -> Result<Self, ValidationError> {
        validate_inputs(signature, &inputs)?;
        // Validation guarantees each input names exactly one signature input and each
        // signature input is given once, so every slot is filled.
        let mut slots: Vec<Option<NamedTensor>> = (0..signature.inputs.len()).map(|_| None).collect();
        for input in inputs {
            if let Some(slot) = signature.inputs.iter().position(|s| s.name == input.name) {
                slots[slot] = Some(input);
            }
        }
        Ok(Self { inputs: slots.into_iter().flatten().collect() })
    }

    /// The inputs, in the signature's order.
    pub fn as_slice(&self) -> &[NamedTensor] {
        &self.inputs
    }

    /// The inputs, in the signature's order.
    pub fn into_inner(self) -> Vec<NamedTensor> {
        self.inputs
    }

    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }
}

fn validate_one(spec: &TensorSpec, input: &NamedTensor) -> Result<(), ValidationError> {
    let name = || input.name.clone();
    let tensor = &input.tensor;
    let expected_type = spec
        .datatype
        .filter(|_| spec.is_servable())
        .ok_or_else(|| ValidationError::UnsupportedInput { name: name(), type_name: spec.type_name.clone() })?;
    if tensor.datatype() != expected_type {
        return Err(ValidationError::DatatypeMismatch {
            name: name(),
            expected: expected_type,
            actual: tensor.datatype(),
        });
    }

    // Dimensions beyond i64::MAX cannot be passed to a runtime, even when another dimension is 0.
    let count = Tensor::element_count(&tensor.shape).filter(|_| tensor.shape.iter().all(|&d| i64::try_from(d).is_ok()));
    let Some(count) = count else {
        return Err(ValidationError::ShapeTooLarge { name: name(), shape: tensor.shape.clone() });
    };

    if let Some(declared) = &spec.shape {
        if declared.len() != tensor.shape.len() {
            return Err(ValidationError::RankMismatch {
                name: name(),
                expected: declared.len(),
                actual: tensor.shape.len(),
                expected_shape: declared.clone(),
                actual_shape: tensor.shape.clone(),
            });
        }
        for (axis, (&want, &got)) in declared.iter().zip(&tensor.shape).enumerate() {
            if want >= 0 && u64::try_from(want).ok() != u64::try_from(got).ok() {
                return Err(ValidationError::DimensionMismatch {
                    name: name(),
                    axis,
                    expected: want,
                    actual: got,
                    expected_shape: declared.clone(),
                });
            }
        }
    }

    if count != tensor.len() {
        return Err(ValidationError::LengthMismatch {
            name: name(),
            shape: tensor.shape.clone(),
            expected: count,
            actual: tensor.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::TensorKind;

    fn spec(name: &str, datatype: DataType, shape: Vec<i64>, dim_names: &[Option<&str>]) -> TensorSpec {
        let mut s = TensorSpec::tensor(name, datatype, shape);
        if !dim_names.is_empty() {
            s.dim_names = dim_names.iter().map(|n| n.map(str::to_owned)).collect();
        }
        s
    }

    /// `a`: FP32 [batch, 4]; `b`: INT64 [batch]; `c`: BOOL [2, -1] (unnamed dynamic).
    fn signature() -> Signature {
        Signature {
            inputs: vec![
                spec("a", DataType::Fp32, vec![-1, 4], &[Some("batch"), None]),
                spec("b", DataType::Int64, vec![-1], &[Some("batch")]),
                spec("c", DataType::Bool, vec![2, -1], &[]),
            ],
            outputs: vec![spec("y", DataType::Fp32, vec![-1], &[Some("batch")])],
        }
    }

    fn a(rows: usize) -> NamedTensor {
        NamedTensor::new("a", Tensor::new(vec![rows, 4], TensorData::F32(vec![0.5; rows * 4])))
    }

    fn b(rows: usize) -> NamedTensor {
        NamedTensor::new("b", Tensor::new(vec![rows], TensorData::I64((0..rows as i64).collect())))
    }

    fn c(cols: usize) -> NamedTensor {
        NamedTensor::new("c", Tensor::new(vec![2, cols], TensorData::Bool(vec![true; 2 * cols])))
    }

    fn err(inputs: &[NamedTensor]) -> ValidationError {
        validate_inputs(&signature(), inputs).expect_err("inputs should be refused")
    }

    #[test]
    fn accepts_matching_inputs_in_any_order() {
        assert_eq!(validate_inputs(&signature(), &[a(3), b(3), c(5)]), Ok(()));
        assert_eq!(validate_inputs(&signature(), &[c(1), b(2), a(2)]), Ok(()));
        // A zero-sized batch is a valid shape.
        assert_eq!(validate_inputs(&signature(), &[a(0), b(0), c(0)]), Ok(()));
    }

    #[test]
    fn refuses_unknown_input_and_lists_the_real_ones() {
        let mut stray = b(1);
        stray.name = "z".into();
        let e = err(&[a(1), stray, c(1)]);
        assert_eq!(
            e,
            ValidationError::UnknownInput { name: "z".into(), expected: vec!["a".into(), "b".into(), "c".into()] }
        );
        assert_eq!(e.to_string(), r#"unknown input "z": the model's inputs are "a", "b", "c""#);
    }

    #[test]
    fn refuses_duplicate_input() {
        let e = err(&[a(1), b(1), a(1), c(1)]);
        assert_eq!(e, ValidationError::DuplicateInput { name: "a".into() });
        assert!(e.to_string().contains("\"a\" is given more than once"));
    }

    #[test]
    fn refuses_missing_input_in_signature_order() {
        let e = err(&[c(1)]);
        assert!(matches!(&e, ValidationError::MissingInput { name, .. } if name == "a"), "{e:?}");
        assert!(e.to_string().starts_with(r#"input "a" is missing"#), "{e}");
        let e = err(&[a(1), c(1)]);
        assert!(matches!(&e, ValidationError::MissingInput { name, .. } if name == "b"), "{e:?}");
    }

    #[test]
    fn refuses_wrong_datatype() {
        let wrong = NamedTensor::new("b", Tensor::new(vec![1], TensorData::I32(vec![1])));
        let e = err(&[a(1), wrong, c(1)]);
        assert_eq!(
            e,
            ValidationError::DatatypeMismatch { name: "b".into(), expected: DataType::Int64, actual: DataType::Int32 }
        );
        assert_eq!(e.to_string(), r#"input "b" has datatype INT32, but the model expects INT64"#);
    }

    #[test]
    fn refuses_wrong_rank() {
        let flat = NamedTensor::new("a", Tensor::new(vec![4], TensorData::F32(vec![0.0; 4])));
        let e = err(&[flat, b(1), c(1)]);
        assert_eq!(
            e,
            ValidationError::RankMismatch {
                name: "a".into(),
                expected: 2,
                actual: 1,
                expected_shape: vec![-1, 4],
                actual_shape: vec![4],
            }
        );
        assert!(e.to_string().contains("has 1 dimensions (shape [4]), but the model expects 2 (shape [-1, 4]"), "{e}");
    }

    #[test]
    fn refuses_wrong_fixed_dimension() {
        let wide = NamedTensor::new("a", Tensor::new(vec![1, 5], TensorData::F32(vec![0.0; 5])));
        let e = err(&[wide, b(1), c(1)]);
        assert_eq!(
            e,
            ValidationError::DimensionMismatch {
                name: "a".into(),
                axis: 1,
                expected: 4,
                actual: 5,
                expected_shape: vec![-1, 4]
            }
        );
        assert!(e.to_string().contains("size 5 in dimension 1, but the model expects 4"), "{e}");
        // The fixed leading dimension of `c` is checked too.
        let tall = NamedTensor::new("c", Tensor::new(vec![3, 1], TensorData::Bool(vec![false; 3])));
        assert!(matches!(err(&[a(1), b(1), tall]), ValidationError::DimensionMismatch { axis: 0, expected: 2, .. }));
    }

    #[test]
    fn refuses_data_length_not_matching_shape() {
        let short = NamedTensor::new("a", Tensor::new(vec![2, 4], TensorData::F32(vec![0.0; 7])));
        let e = err(&[short, b(2), c(1)]);
        assert_eq!(e, ValidationError::LengthMismatch { name: "a".into(), shape: vec![2, 4], expected: 8, actual: 7 });
        assert_eq!(e.to_string(), r#"input "a" has shape [2, 4], which holds 8 elements, but 7 were given"#);
    }

    #[test]
    fn refuses_overflowing_shapes_without_panicking() {
        let huge = NamedTensor::new("c", Tensor::new(vec![2, usize::MAX], TensorData::Bool(vec![])));
        assert!(matches!(err(&[a(1), b(1), huge]), ValidationError::ShapeTooLarge { .. }));
        // Zero elements, but a dimension no runtime can address.
        let zero = NamedTensor::new("c", Tensor::new(vec![2, 0, usize::MAX], TensorData::Bool(vec![])));
        assert!(matches!(err(&[a(1), b(1), zero]), ValidationError::ShapeTooLarge { .. }));
    }

    #[test]
    fn refuses_disagreeing_named_dimensions() {
        let e = err(&[a(2), b(3), c(1)]);
        assert_eq!(
            e,
            ValidationError::SymbolMismatch {
                name: "b".into(),
                axis: 0,
                symbol: "batch".into(),
                other: "a".into(),
                expected: 2,
                actual: 3,
            }
        );
        assert!(e.to_string().contains(r#"input "a" has "batch" = 2"#), "{e}");
    }

    #[test]
    fn unknown_rank_skips_shape_checks_but_not_length() {
        let mut sig = signature();
        sig.inputs[2].shape = None;
        sig.inputs[2].dim_names = vec![];
        let any = NamedTensor::new("c", Tensor::new(vec![7], TensorData::Bool(vec![true; 7])));
        assert_eq!(validate_inputs(&sig, &[a(1), b(1), any]), Ok(()));
        let bad = NamedTensor::new("c", Tensor::new(vec![7], TensorData::Bool(vec![true; 6])));
        assert!(matches!(validate_inputs(&sig, &[a(1), b(1), bad]), Err(ValidationError::LengthMismatch { .. })));
    }

    #[test]
    fn refuses_inputs_the_signature_cannot_serve() {
        let mut sig = signature();
        sig.inputs[2].kind = TensorKind::Sequence;
        sig.inputs[2].type_name = "seq(tensor(bool))".into();
        let e = validate_inputs(&sig, &[a(1), b(1), c(1)]).expect_err("unservable");
        assert_eq!(e, ValidationError::UnsupportedInput { name: "c".into(), type_name: "seq(tensor(bool))".into() });
    }

    #[test]
    fn scalar_inputs_hold_one_element() {
        let sig = Signature {
            inputs: vec![spec("s", DataType::Bytes, vec![], &[])],
            outputs: vec![spec("y", DataType::Bytes, vec![], &[])],
        };
        let one = NamedTensor::new("s", Tensor::new(vec![], TensorData::Bytes(vec![b"hi".to_vec()])));
        assert_eq!(validate_inputs(&sig, &[one]), Ok(()));
        let none = NamedTensor::new("s", Tensor::new(vec![], TensorData::Bytes(vec![])));
        assert!(matches!(
            validate_inputs(&sig, &[none]),
            Err(ValidationError::LengthMismatch { expected: 1, actual: 0, .. })
        ));
    }

    #[test]
    fn validated_inputs_come_in_signature_order() {
        let validated = ValidatedInputs::new(&signature(), vec![c(1), a(2), b(2)]).expect("valid");
        let names: Vec<&str> = validated.as_slice().iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!((validated.len(), validated.is_empty()), (3, false));
        assert_eq!(validated.clone().into_inner(), vec![a(2), b(2), c(1)]);
        // The same inputs in another order make the same value.
        assert_eq!(ValidatedInputs::new(&signature(), vec![a(2), b(2), c(1)]), Ok(validated));
    }

    #[test]
    fn validated_inputs_refuse_what_validate_inputs_refuses() {
        assert_eq!(ValidatedInputs::new(&signature(), vec![a(2), b(3), c(1)]), Err(err(&[a(2), b(3), c(1)])));
        assert!(matches!(
            ValidatedInputs::new(&signature(), vec![a(1), c(1)]),
            Err(ValidationError::MissingInput { name, .. }) if name == "b"
        ));
        let none = Signature::default();
        let empty = ValidatedInputs::new(&none, Vec::new()).expect("no inputs for a signature without any");
        assert!(empty.is_empty());
        assert_eq!(empty.len(), 0);
    }

    #[test]
    fn tensor_data_reports_type_and_length() {
        for datatype in DataType::ALL {
            match TensorData::zeros(datatype, 3) {
                Some(zeros) => {
                    assert!(TensorData::supports(datatype));
                    assert_eq!(zeros.datatype(), datatype);
                    assert_eq!(zeros.len(), 3);
                }
                None => assert!(matches!(datatype, DataType::Fp16 | DataType::Bf16)),
            }
        }
        let t = Tensor::new(vec![2, 3], TensorData::U16(vec![1; 6]));
        assert!(t.is_consistent());
        assert_eq!(Tensor::element_count(&[]), Some(1));
        assert_eq!(Tensor::element_count(&[usize::MAX, 2]), None);
        assert!(TensorData::Bytes(vec![]).is_empty());
    }
}
