//! What both protocols check of an input against the model's signature.

use depot_domain::{DataType, Signature, Tensor, TensorData, ValidationError};

use super::EncodingError;

/// The element type the model declares for input `name`.
///
/// Refuses names the model does not have and inputs that are not tensors of a known type. FP16
/// and BF16 pass: the caller refuses them where it picks a Rust element type.
pub(super) fn declared_datatype(signature: &Signature, name: &str) -> Result<DataType, EncodingError> {
    let Some(spec) = signature.input(name) else {
        let expected = signature.inputs.iter().map(|s| s.name.clone()).collect();
        return Err(ValidationError::UnknownInput { name: name.to_owned(), expected }.into());
    };
    match spec.datatype {
        Some(datatype) if spec.is_servable() => Ok(datatype),
        _ => Err(ValidationError::UnsupportedInput { name: name.to_owned(), type_name: spec.type_name.clone() }.into()),
    }
}

/// Checks a `datatype` a request states against the one the model declares.
pub(super) fn check_stated_datatype(name: &str, stated: &str, expected: DataType) -> Result<(), EncodingError> {
    let Some(stated) = DataType::parse(stated) else {
        return Err(EncodingError::UnknownDatatype { name: name.to_owned(), datatype: stated.to_owned(), expected });
    };
    if !TensorData::supports(stated) {
        return Err(EncodingError::UnsupportedDatatype { name: name.to_owned(), datatype: stated });
    }
    if stated != expected {
        return Err(ValidationError::DatatypeMismatch { name: name.to_owned(), expected, actual: stated }.into());
    }
    Ok(())
}

/// A shape a request states, as dimensions, with the number of elements it holds.
pub(super) fn stated_shape(name: &str, shape: &[i64]) -> Result<(Vec<usize>, usize), EncodingError> {
    let dims = shape
        .iter()
        .map(|&d| usize::try_from(d).ok())
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| EncodingError::InvalidShape { name: name.to_owned(), shape: shape.to_vec() })?;
    match Tensor::element_count(&dims) {
        Some(count) => Ok((dims, count)),
        None => Err(ValidationError::ShapeTooLarge { name: name.to_owned(), shape: dims }.into()),
    }
}

/// Checks that `len` elements fill a stated shape.
pub(super) fn check_length(name: &str, shape: &[usize], count: usize, len: usize) -> Result<(), EncodingError> {
    if count == len {
        Ok(())
    } else {
        Err(ValidationError::LengthMismatch {
            name: name.to_owned(),
            shape: shape.to_vec(),
            expected: count,
            actual: len,
        }
        .into())
    }
}
