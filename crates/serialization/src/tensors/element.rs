//! The element types Depot carries, and how one JSON value becomes one element.

use std::fmt;

use depot_domain::{DataType, TensorData};

/// Runs `$body` with `$T` the Rust element type of `$datatype`, or `$unsupported` for FP16 and
/// BF16, which have no [`TensorData`] variant.
macro_rules! with_element_type {
    ($datatype:expr, $T:ident => $body:expr, unsupported => $unsupported:expr) => {
        match $datatype {
            ::depot_domain::DataType::Bool => {
                type $T = bool;
                $body
            }
            ::depot_domain::DataType::Uint8 => {
                type $T = u8;
                $body
            }
            ::depot_domain::DataType::Uint16 => {
                type $T = u16;
                $body
            }
            ::depot_domain::DataType::Uint32 => {
                type $T = u32;
                $body
            }
            ::depot_domain::DataType::Uint64 => {
                type $T = u64;
                $body
            }
            ::depot_domain::DataType::Int8 => {
                type $T = i8;
                $body
            }
            ::depot_domain::DataType::Int16 => {
                type $T = i16;
                $body
            }
            ::depot_domain::DataType::Int32 => {
                type $T = i32;
                $body
            }
            ::depot_domain::DataType::Int64 => {
                type $T = i64;
                $body
            }
            ::depot_domain::DataType::Fp32 => {
                type $T = f32;
                $body
            }
            ::depot_domain::DataType::Fp64 => {
                type $T = f64;
                $body
            }
            ::depot_domain::DataType::Bytes => {
                type $T = Vec<u8>;
                $body
            }
            ::depot_domain::DataType::Fp16 | ::depot_domain::DataType::Bf16 => $unsupported,
        }
    };
}
pub(super) use with_element_type;

/// Runs `$body` with `$values` bound to the slice inside any [`TensorData`] variant.
macro_rules! with_values {
    ($data:expr, $values:ident => $body:expr) => {
        match $data {
            ::depot_domain::TensorData::Bool($values) => $body,
            ::depot_domain::TensorData::U8($values) => $body,
            ::depot_domain::TensorData::U16($values) => $body,
            ::depot_domain::TensorData::U32($values) => $body,
            ::depot_domain::TensorData::U64($values) => $body,
            ::depot_domain::TensorData::I8($values) => $body,
            ::depot_domain::TensorData::I16($values) => $body,
            ::depot_domain::TensorData::I32($values) => $body,
            ::depot_domain::TensorData::I64($values) => $body,
            ::depot_domain::TensorData::F32($values) => $body,
            ::depot_domain::TensorData::F64($values) => $body,
            ::depot_domain::TensorData::Bytes($values) => $body,
        }
    };
}
pub(super) use with_values;

/// One JSON value where an element is expected, as the parser reported it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Scalar<'a> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(&'a str),
}

impl fmt::Display for Scalar<'_> {
    /// As the request spelled it, near enough to find it; long strings are cut short.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX_CHARS: usize = 32;
        match *self {
            Self::Null => f.write_str("null"),
            Self::Bool(v) => write!(f, "{v}"),
            Self::U64(v) => write!(f, "{v}"),
            Self::I64(v) => write!(f, "{v}"),
            // Debug prints 1e300 as `1e300`, where Display would print 301 digits.
            Self::F64(v) => write!(f, "{v:?}"),
            Self::Str(s) => match s.char_indices().nth(MAX_CHARS) {
                Some((cut, _)) => write!(f, "the string {:?}...", s.get(..cut).unwrap_or_default()),
                None => write!(f, "the string {s:?}"),
            },
        }
    }
}

/// Why a JSON value is not an element of a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reject {
    /// A value of another kind: a string for a number, a number for a BOOL.
    Kind,
    /// A number with a fractional part, for an integer type.
    Fraction,
    /// A whole number beyond 2^53 written with a fraction or exponent, for an integer type.
    Inexact,
    /// A number outside the type's range.
    Range,
}

impl Reject {
    /// Says why, for an element of `datatype`.
    pub(super) fn reason(self, datatype: DataType) -> String {
        match self {
            Self::Kind => match datatype {
                DataType::Bool => "expected true or false".to_owned(),
                DataType::Bytes => "expected a string".to_owned(),
                DataType::Fp32 | DataType::Fp64 => "expected a number (or null for NaN)".to_owned(),
                _ => "expected a number".to_owned(),
            },
            Self::Fraction => "it is not a whole number".to_owned(),
            Self::Inexact => {
                "whole numbers beyond 2^53 must be written without a fraction or exponent, to be exact".to_owned()
            }
            Self::Range => format!("it is outside the range of {datatype} ({})", range(datatype)),
        }
    }
}

/// The range of a numeric datatype, in words.
fn range(datatype: DataType) -> &'static str {
    match datatype {
        DataType::Uint8 => "0 to 255",
        DataType::Uint16 => "0 to 65535",
        DataType::Uint32 => "0 to 4294967295",
        DataType::Uint64 => "0 to 18446744073709551615",
        DataType::Int8 => "-128 to 127",
        DataType::Int16 => "-32768 to 32767",
        DataType::Int32 => "-2147483648 to 2147483647",
        DataType::Int64 => "-9223372036854775808 to 9223372036854775807",
        DataType::Fp32 => "about ±3.4e38",
        DataType::Fp64 => "about ±1.8e308",
        DataType::Fp16 => "about ±65504",
        DataType::Bf16 => "about ±3.4e38",
        DataType::Bool | DataType::Bytes => "not numeric",
    }
}

/// A Rust type that holds the elements of one [`TensorData`] variant.
pub(super) trait Element: Sized {
    /// The datatype whose elements this type holds.
    const DATATYPE: DataType;

    /// The element a JSON value stands for.
    fn from_json(value: Scalar<'_>) -> Result<Self, Reject>;

    /// Whether [`Self::from_f64`] reads this type's elements: the fast path's shortcut for
    /// floating-point elements, which are read from any JSON number through an `f64`.
    const FROM_F64: bool = false;

    /// The element a JSON number stands for, given as the `f64` it is closest to, for a number
    /// of magnitude below 2^53 (where every whole number is exact, so that `3` read as
    /// [`Scalar::U64`] and read as an `f64` are the same element); `None` for a type without
    /// the shortcut.
    #[inline]
    fn from_f64(_value: f64) -> Option<Self> {
        None
    }

    /// Wraps decoded elements.
    fn into_data(values: Vec<Self>) -> TensorData;
}

/// The largest magnitude up to which every whole number is exactly an `f64`.
pub(super) const EXACT_F64_INTEGER: f64 = 9_007_199_254_740_992.0; // 2^53

/// Reads an integer of type `T` from a JSON number.
fn integer<T: TryFrom<i128>>(value: Scalar<'_>) -> Result<T, Reject> {
    let wide = match value {
        Scalar::U64(v) => i128::from(v),
        Scalar::I64(v) => i128::from(v),
        Scalar::F64(v) if v.fract() != 0.0 || !v.is_finite() => return Err(Reject::Fraction),
        // Whole and finite: exact in i128 below 2^127, saturated beyond (and then out of range).
        Scalar::F64(v) => {
            let wide = v as i128;
            if T::try_from(wide).is_ok() && v.abs() > EXACT_F64_INTEGER {
                return Err(Reject::Inexact);
            }
            wide
        }
        Scalar::Null | Scalar::Bool(_) | Scalar::Str(_) => return Err(Reject::Kind),
    };
    T::try_from(wide).map_err(|_| Reject::Range)
}

macro_rules! integer_element {
    ($($t:ty => $datatype:ident, $variant:ident;)*) => {$(
        impl Element for $t {
            const DATATYPE: DataType = DataType::$datatype;

            #[inline]
            fn from_json(value: Scalar<'_>) -> Result<Self, Reject> {
                integer(value)
            }

            fn into_data(values: Vec<Self>) -> TensorData {
                TensorData::$variant(values)
            }
        }
    )*};
}

integer_element! {
    u8 => Uint8, U8;
    u16 => Uint16, U16;
    u32 => Uint32, U32;
    u64 => Uint64, U64;
    i8 => Int8, I8;
    i16 => Int16, I16;
    i32 => Int32, I32;
    i64 => Int64, I64;
}

impl Element for f32 {
    const DATATYPE: DataType = DataType::Fp32;
    const FROM_F64: bool = true;

    #[inline]
    fn from_f64(value: f64) -> Option<Self> {
        // Below 2^53 in magnitude, so never out of f32's range.
        Some(value as f32)
    }

    #[inline]
    fn from_json(value: Scalar<'_>) -> Result<Self, Reject> {
        match value {
            Scalar::U64(v) => Ok(v as f32),
            Scalar::I64(v) => Ok(v as f32),
            Scalar::F64(v) => {
                let narrow = v as f32;
                // The parser only yields finite numbers; one that overflows f32 is out of range.
                if narrow.is_infinite() && v.is_finite() { Err(Reject::Range) } else { Ok(narrow) }
            }
            Scalar::Null => Ok(f32::NAN),
            Scalar::Bool(_) | Scalar::Str(_) => Err(Reject::Kind),
        }
    }

    fn into_data(values: Vec<Self>) -> TensorData {
        TensorData::F32(values)
    }
}

impl Element for f64 {
    const DATATYPE: DataType = DataType::Fp64;
    const FROM_F64: bool = true;

    #[inline]
    fn from_f64(value: f64) -> Option<Self> {
        Some(value)
    }

    #[inline]
    fn from_json(value: Scalar<'_>) -> Result<Self, Reject> {
        match value {
            Scalar::U64(v) => Ok(v as f64),
            Scalar::I64(v) => Ok(v as f64),
            Scalar::F64(v) => Ok(v),
            Scalar::Null => Ok(f64::NAN),
            Scalar::Bool(_) | Scalar::Str(_) => Err(Reject::Kind),
        }
    }

    fn into_data(values: Vec<Self>) -> TensorData {
        TensorData::F64(values)
    }
}

impl Element for bool {
    const DATATYPE: DataType = DataType::Bool;

    #[inline]
    fn from_json(value: Scalar<'_>) -> Result<Self, Reject> {
        match value {
            Scalar::Bool(v) => Ok(v),
            _ => Err(Reject::Kind),
        }
    }

    fn into_data(values: Vec<Self>) -> TensorData {
        TensorData::Bool(values)
    }
}

impl Element for Vec<u8> {
    const DATATYPE: DataType = DataType::Bytes;

    #[inline]
    fn from_json(value: Scalar<'_>) -> Result<Self, Reject> {
        match value {
            Scalar::Str(s) => Ok(s.as_bytes().to_vec()),
            _ => Err(Reject::Kind),
        }
    }

    fn into_data(values: Vec<Self>) -> TensorData {
        TensorData::Bytes(values)
    }
}
