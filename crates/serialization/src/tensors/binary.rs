//! Triton's binary tensor data: elements little-endian, row-major, without padding; a BOOL is
//! one byte, 0 or 1; a BYTES element is a 4-byte little-endian length, then that many bytes.

use depot_domain::{DataType, TensorData, ValidationError};

use super::EncodingError;

/// Bytes of one BYTES element's length prefix.
const LENGTH_PREFIX: usize = 4;

/// Checks that a `binary_data_size` of `size` bytes fits `count` elements of `datatype` (the
/// shape `shape`). Only fixed-size datatypes can be checked before reading: a BYTES tensor's
/// size depends on its elements.
pub(super) fn check_size(
    name: &str,
    datatype: DataType,
    shape: &[usize],
    count: usize,
    size: usize,
) -> Result<(), EncodingError> {
    let Some(element_size) = datatype.element_size() else {
        return Ok(());
    };
    let Some(expected) = count.checked_mul(element_size) else {
        return Err(ValidationError::ShapeTooLarge { name: name.to_owned(), shape: shape.to_vec() }.into());
    };
    if expected != size {
        return Err(EncodingError::BinarySizeMismatch {
            name: name.to_owned(),
            datatype,
            shape: shape.to_vec(),
            expected,
            actual: size,
        });
    }
    Ok(())
}

/// Decodes the binary data of input `name`: `bytes`, which its `binary_data_size` gave, holding
/// `count` elements of `datatype` (the shape `shape`).
pub(super) fn read(
    name: &str,
    datatype: DataType,
    shape: &[usize],
    count: usize,
    bytes: &[u8],
) -> Result<TensorData, EncodingError> {
    check_size(name, datatype, shape, count, bytes.len())?;

    /// Reads fixed-size little-endian elements; the length is checked above.
    macro_rules! little_endian {
        ($t:ty, $size:literal) => {
            bytes.as_chunks::<$size>().0.iter().map(|chunk| <$t>::from_le_bytes(*chunk)).collect()
        };
    }

    Ok(match datatype {
        DataType::Bool => TensorData::Bool(bools(name, bytes)?),
        DataType::Uint8 => TensorData::U8(bytes.to_vec()),
        DataType::Uint16 => TensorData::U16(little_endian!(u16, 2)),
        DataType::Uint32 => TensorData::U32(little_endian!(u32, 4)),
        DataType::Uint64 => TensorData::U64(little_endian!(u64, 8)),
        DataType::Int8 => TensorData::I8(little_endian!(i8, 1)),
        DataType::Int16 => TensorData::I16(little_endian!(i16, 2)),
        DataType::Int32 => TensorData::I32(little_endian!(i32, 4)),
        DataType::Int64 => TensorData::I64(little_endian!(i64, 8)),
        DataType::Fp32 => TensorData::F32(little_endian!(f32, 4)),
        DataType::Fp64 => TensorData::F64(little_endian!(f64, 8)),
        DataType::Bytes => TensorData::Bytes(strings(name, shape, count, bytes)?),
        DataType::Fp16 | DataType::Bf16 => {
            return Err(EncodingError::UnsupportedDatatype { name: name.to_owned(), datatype });
        }
    })
}

fn bools(name: &str, bytes: &[u8]) -> Result<Vec<bool>, EncodingError> {
    bytes
        .iter()
        .enumerate()
        .map(|(index, &byte)| match byte {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(EncodingError::InvalidBool { name: name.to_owned(), index, byte }),
        })
        .collect()
}

/// Reads length-prefixed BYTES elements, which must fill `bytes` exactly and be `count`.
fn strings(name: &str, shape: &[usize], count: usize, bytes: &[u8]) -> Result<Vec<Vec<u8>>, EncodingError> {
    // Every element takes at least its prefix, so the data bounds what is worth reserving.
    let mut values = Vec::with_capacity(count.min(bytes.len() / LENGTH_PREFIX));
    let mut rest = bytes;
    while !rest.is_empty() {
        let truncated = |needed: u64| EncodingError::BytesTruncated {
            name: name.to_owned(),
            index: values.len(),
            needed,
            available: rest.len(),
        };
        let Some((prefix, after)) = rest.split_first_chunk::<LENGTH_PREFIX>() else {
            return Err(truncated(LENGTH_PREFIX as u64));
        };
        let len = u32::from_le_bytes(*prefix);
        let Some((value, after)) = usize::try_from(len).ok().and_then(|len| after.split_at_checked(len)) else {
            return Err(truncated(LENGTH_PREFIX as u64 + u64::from(len)));
        };
        values.push(value.to_vec());
        rest = after;
    }
    if values.len() != count {
        return Err(ValidationError::LengthMismatch {
            name: name.to_owned(),
            shape: shape.to_vec(),
            expected: count,
            actual: values.len(),
        }
        .into());
    }
    Ok(values)
}

/// The longest BYTES element the 4-byte length prefix can describe; longer ones are cut to it.
fn prefixable(value: &[u8]) -> &[u8] {
    value.get(..u32::MAX as usize).unwrap_or(value)
}

/// The size of `data` in the binary encoding.
pub(super) fn size(data: &TensorData) -> usize {
    match data {
        TensorData::Bytes(values) => values.iter().map(|v| LENGTH_PREFIX + prefixable(v).len()).sum(),
        _ => data.datatype().element_size().unwrap_or(0).saturating_mul(data.len()),
    }
}

/// Appends `data` in the binary encoding: [`size`] bytes.
pub(super) fn write(data: &TensorData, out: &mut Vec<u8>) {
    out.reserve(size(data));

    macro_rules! little_endian {
        ($values:expr) => {
            for value in $values {
                out.extend_from_slice(&value.to_le_bytes());
            }
        };
    }

    match data {
        TensorData::Bool(values) => out.extend(values.iter().map(|&b| u8::from(b))),
        TensorData::U8(values) => out.extend_from_slice(values),
        TensorData::U16(values) => little_endian!(values),
        TensorData::U32(values) => little_endian!(values),
        TensorData::U64(values) => little_endian!(values),
        TensorData::I8(values) => little_endian!(values),
        TensorData::I16(values) => little_endian!(values),
        TensorData::I32(values) => little_endian!(values),
        TensorData::I64(values) => little_endian!(values),
        TensorData::F32(values) => little_endian!(values),
        TensorData::F64(values) => little_endian!(values),
        TensorData::Bytes(values) => {
            for value in values {
                let value = prefixable(value);
                let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(value);
            }
        }
    }
}
