//! Tensor data in JSON: decoding flat or nested arrays straight into a typed `Vec`, and writing
//! elements, flat or nested, straight into a byte buffer.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use depot_domain::{DataType, Tensor, TensorData};
use serde::Serialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::EncodingError;
use super::element::{Element, Reject, Scalar, with_values};

/// Carries the first [`EncodingError`] out of serde's visitors, which can only return serde
/// errors: a visitor that refuses a value records why here, and returns a serde error that
/// stops the parse.
#[derive(Default)]
pub(super) struct Failure(Cell<Option<EncodingError>>);

impl Failure {
    /// Records `error` (unless an earlier one is recorded) and returns a serde error to stop on.
    pub(super) fn raise<E: de::Error>(&self, error: EncodingError) -> E {
        let message = error.to_string();
        let earlier = self.0.take();
        self.0.set(Some(earlier.unwrap_or(error)));
        E::custom(message)
    }

    /// Whether an error has been recorded.
    pub(super) fn is_raised(&self) -> bool {
        let error = self.0.take();
        let raised = error.is_some();
        self.0.set(error);
        raised
    }

    /// The recorded error, or else `error` as a malformed request.
    pub(super) fn resolve(&self, error: serde_json::Error) -> EncodingError {
        self.0.take().unwrap_or_else(|| EncodingError::Malformed { message: error.to_string() })
    }

    /// The recorded error, or else `error` as a malformed input `name`.
    pub(super) fn resolve_input(&self, name: &str, error: serde_json::Error) -> EncodingError {
        self.0
            .take()
            .unwrap_or_else(|| EncodingError::InputMalformed { name: name.to_owned(), message: error.to_string() })
    }
}

/// What decoding one input needs: its name, for messages, and where to record a failure.
#[derive(Clone, Copy)]
pub(super) struct Cx<'a> {
    pub(super) name: &'a str,
    pub(super) failure: &'a Failure,
}

impl Cx<'_> {
    fn raise<E: de::Error>(self, error: EncodingError) -> E {
        self.failure.raise(error)
    }

    fn name(self) -> String {
        self.name.to_owned()
    }
}

/// Elements read from possibly nested arrays, with the shape that the nesting gives.
#[derive(Debug)]
pub(super) struct Nested<T> {
    values: Vec<T>,
    /// The length of the first array closed at each depth; `None` until one is.
    dims: Vec<Option<usize>>,
    /// The depth at which values (not arrays) were found.
    leaf_depth: Option<usize>,
}

impl<T: Element> Nested<T> {
    pub(super) fn new() -> Self {
        Self { values: Vec::new(), dims: Vec::new(), leaf_depth: None }
    }

    /// The number of elements read.
    pub(super) fn len(&self) -> usize {
        self.values.len()
    }

    /// The shape the nesting gives, and the elements in row-major order.
    pub(super) fn into_parts(self) -> (Vec<usize>, Vec<T>) {
        // Every array at depth d lies inside one at depth d - 1, which closes after it, so each
        // depth up to the deepest has a length once the outermost array has closed.
        let shape = self.dims.into_iter().map(|d| d.unwrap_or(0)).collect();
        (shape, self.values)
    }

    pub(super) fn into_tensor(self) -> Tensor {
        let (shape, values) = self.into_parts();
        Tensor::new(shape, T::into_data(values))
    }

    /// Whether a value may stand `depth` arrays deep: all values stand at one depth.
    fn leaf_at(&self, depth: usize) -> bool {
        match self.leaf_depth {
            Some(leaf) => leaf == depth,
            // No array may have closed at this depth or below it.
            None => self.dims.len() <= depth,
        }
    }

    /// Starts a run of values at `depth`, pushed with [`Self::push_leaf`]: whether values may
    /// stand there (all values stand at one depth). For the fast path, which gives up on any
    /// error and so need not build one.
    pub(super) fn begin_leaves(&mut self, depth: usize) -> bool {
        if !self.leaf_at(depth) {
            return false;
        }
        self.leaf_depth = Some(depth);
        true
    }

    /// Pushes an element at the depth [`Self::begin_leaves`] accepted.
    #[inline]
    pub(super) fn push_leaf(&mut self, element: T) {
        self.values.push(element);
    }

    fn push(&mut self, value: Scalar<'_>, depth: usize, cx: Cx<'_>) -> Result<(), EncodingError> {
        if !self.leaf_at(depth) {
            return Err(EncodingError::RaggedDepth { name: cx.name(), depth });
        }
        self.leaf_depth = Some(depth);
        let element = T::from_json(value).map_err(|reject| EncodingError::InvalidElement {
            name: cx.name(),
            index: self.values.len(),
            datatype: T::DATATYPE,
            value: value.to_string(),
            reason: reject.reason(T::DATATYPE),
        })?;
        self.values.push(element);
        Ok(())
    }

    pub(super) fn open(&self, depth: usize, cx: Cx<'_>) -> Result<(), EncodingError> {
        match self.leaf_depth {
            Some(leaf) if leaf <= depth => Err(EncodingError::RaggedDepth { name: cx.name(), depth }),
            _ => Ok(()),
        }
    }

    pub(super) fn close(&mut self, depth: usize, len: usize, cx: Cx<'_>) -> Result<(), EncodingError> {
        if self.dims.len() <= depth {
            self.dims.resize(depth + 1, None);
        }
        match self.dims.get_mut(depth) {
            Some(Some(expected)) if *expected != len => {
                Err(EncodingError::RaggedLength { name: cx.name(), depth, expected: *expected, actual: len })
            }
            Some(dim) => {
                *dim = Some(len);
                Ok(())
            }
            None => Ok(()),
        }
    }
}

/// Decodes tensor data (a value, or arrays nested to any depth) of element type `T`.
pub(super) struct DataSeed<'a, T> {
    cx: Cx<'a>,
    element: PhantomData<T>,
}

impl<'a, T> DataSeed<'a, T> {
    pub(super) fn new(cx: Cx<'a>) -> Self {
        Self { cx, element: PhantomData }
    }
}

impl<'de, T: Element> DeserializeSeed<'de> for DataSeed<'_, T> {
    type Value = Nested<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Nested<T>, D::Error> {
        let mut nested = Nested::new();
        deserializer.deserialize_any(Level { nested: &mut nested, depth: 0, cx: self.cx })?;
        Ok(nested)
    }
}

/// Forwards each JSON scalar to `$self.scalar(..)`.
macro_rules! visit_scalars {
    () => {
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            self.scalar(Scalar::Bool(v))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            self.scalar(Scalar::U64(v))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            self.scalar(Scalar::I64(v))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            self.scalar(Scalar::F64(v))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            self.scalar(Scalar::Str(v))
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            self.scalar(Scalar::Null)
        }
    };
}
pub(super) use visit_scalars;

/// One value or array of tensor data, `depth` arrays deep.
struct Level<'n, 'a, T> {
    nested: &'n mut Nested<T>,
    depth: usize,
    cx: Cx<'a>,
}

impl<T: Element> Level<'_, '_, T> {
    fn scalar<E: de::Error>(self, value: Scalar<'_>) -> Result<(), E> {
        self.nested.push(value, self.depth, self.cx).map_err(|e| self.cx.raise(e))
    }
}

impl<'de, T: Element> DeserializeSeed<'de> for Level<'_, '_, T> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, T: Element> Visitor<'de> for Level<'_, '_, T> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} elements, or arrays of them", T::DATATYPE)
    }

    visit_scalars!();

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Self { nested, depth, cx } = self;
        nested.open(depth, cx).map_err(|e| cx.raise(e))?;
        let mut len = 0;
        while seq.next_element_seed(Level { nested: &mut *nested, depth: depth + 1, cx })?.is_some() {
            len += 1;
        }
        nested.close(depth, len, cx).map_err(|e| cx.raise(e))
    }

    fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<(), A::Error> {
        Err(self.cx.raise(EncodingError::InvalidElement {
            name: self.cx.name(),
            index: self.nested.len(),
            datatype: T::DATATYPE,
            value: "an object".to_owned(),
            reason: Reject::Kind.reason(T::DATATYPE),
        }))
    }
}

/// Starts decoding a value of tensor data whose first token the caller has already seen as a
/// scalar or an array: used where the same JSON value may instead be an object of another form.
pub(super) fn scalar_root<T: Element, E: de::Error>(value: Scalar<'_>, cx: Cx<'_>) -> Result<Nested<T>, E> {
    let mut nested = Nested::new();
    Level { nested: &mut nested, depth: 0, cx }.scalar(value)?;
    Ok(nested)
}

/// As [`scalar_root`], for an array.
pub(super) fn seq_root<'de, T: Element, A: SeqAccess<'de>>(seq: A, cx: Cx<'_>) -> Result<Nested<T>, A::Error> {
    let mut nested = Nested::new();
    Level { nested: &mut nested, depth: 0, cx }.visit_seq(seq)?;
    Ok(nested)
}

/// Writes `value` as JSON.
///
/// Writing into a `Vec` cannot fail, and every value written here serializes (non-finite
/// floats as `null`), so the result carries nothing.
pub(super) fn put<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let _ = serde_json::to_writer(out, value);
}

/// Writes one element of a JSON array.
trait WriteJson {
    fn write_json(&self, out: &mut Vec<u8>);
}

macro_rules! write_json_as_serde {
    ($($t:ty),*) => {$(
        impl WriteJson for $t {
            fn write_json(&self, out: &mut Vec<u8>) {
                put(out, self);
            }
        }
    )*};
}

write_json_as_serde!(bool, u8, u16, u32, u64, i8, i16, i32, i64, f32, f64);

impl WriteJson for Vec<u8> {
    /// A string when UTF-8, else `{"b64": ".."}`.
    fn write_json(&self, out: &mut Vec<u8>) {
        match std::str::from_utf8(self) {
            Ok(s) => put(out, s),
            Err(_) => {
                out.extend_from_slice(b"{\"b64\":\"");
                base64(self, out);
                out.extend_from_slice(b"\"}");
            }
        }
    }
}

/// Writes `data` as one flat JSON array.
pub(super) fn write_flat(out: &mut Vec<u8>, data: &TensorData) {
    with_values!(data, values => write_array(out, values));
}

/// Writes `data` as JSON arrays nested by `shape`: a value for shape `[]`. Data that does not
/// fill the shape exactly is written flat (the shape is only a guide to the reader).
pub(super) fn write_nested(out: &mut Vec<u8>, shape: &[usize], data: &TensorData) {
    if !nestable(shape, data.len()) {
        return write_flat(out, data);
    }
    with_values!(data, values => nest(out, shape, values));
}

/// Whether `len` elements can be written nested by `shape`: they fill it exactly, and an empty
/// tensor does not need an absurd number of empty arrays (`[1000000000, 0]`).
pub(super) fn nestable(shape: &[usize], len: usize) -> bool {
    const MAX_EMPTY_ARRAYS: usize = 1 << 16;
    if Tensor::element_count(shape) != Some(len) {
        return false;
    }
    // With elements, there are fewer arrays than elements at every depth.
    len > 0
        || shape
            .iter()
            .take_while(|&&d| d != 0)
            .try_fold(1usize, |arrays, &d| arrays.checked_mul(d))
            .is_some_and(|arrays| arrays <= MAX_EMPTY_ARRAYS)
}

fn nest<T: WriteJson>(out: &mut Vec<u8>, shape: &[usize], values: &[T]) {
    match shape {
        [] => match values.first() {
            Some(value) => value.write_json(out),
            None => out.extend_from_slice(b"null"),
        },
        [_] => write_array(out, values),
        [outer, inner @ ..] => {
            let stride = inner.iter().product::<usize>();
            out.push(b'[');
            for i in 0..*outer {
                if i > 0 {
                    out.push(b',');
                }
                let chunk = values.get(i * stride..(i + 1) * stride).unwrap_or_default();
                nest(out, inner, chunk);
            }
            out.push(b']');
        }
    }
}

fn write_array<T: WriteJson>(out: &mut Vec<u8>, values: &[T]) {
    out.push(b'[');
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        value.write_json(out);
    }
    out.push(b']');
}

/// Whether `data` holds a BYTES element that is not UTF-8, which OIP JSON cannot carry.
pub(super) fn has_non_utf8(data: &TensorData) -> bool {
    matches!(data, TensorData::Bytes(values) if values.iter().any(|v| std::str::from_utf8(v).is_err()))
}

/// The JSON datatype name, quoted.
pub(super) fn put_datatype(out: &mut Vec<u8>, datatype: DataType) {
    out.push(b'"');
    out.extend_from_slice(datatype.as_str().as_bytes());
    out.push(b'"');
}

/// Writes `shape` as a JSON array.
pub(super) fn put_shape(out: &mut Vec<u8>, shape: &[usize]) {
    out.push(b'[');
    for (i, dim) in shape.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        put(out, dim);
    }
    out.push(b']');
}

/// `bytes` in standard base64 (RFC 4648 §4) with padding.
pub(super) fn base64_string(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len().div_ceil(3) * 4);
    base64(bytes, &mut out);
    out.into_iter().map(char::from).collect()
}

/// Appends `bytes` in standard base64 (RFC 4648 §4) with padding.
fn base64(bytes: &[u8], out: &mut Vec<u8>) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let symbol = |sextet: u32| ALPHABET[(sextet & 63) as usize];
    for chunk in bytes.chunks(3) {
        let [a, b, c] = [0, 1, 2].map(|i| chunk.get(i).copied().map_or(0, u32::from));
        let group = (a << 16) | (b << 8) | c;
        out.push(symbol(group >> 18));
        out.push(symbol(group >> 12));
        out.push(if chunk.len() > 1 { symbol(group >> 6) } else { b'=' });
        out.push(if chunk.len() > 2 { symbol(group) } else { b'=' });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        base64_string(bytes)
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let vectors =
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE=")];
        for (plain, encoded) in vectors {
            assert_eq!(b64(plain.as_bytes()), encoded, "{plain:?}");
        }
        assert_eq!(b64(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn nests_by_shape_and_falls_back_to_flat() {
        let data = TensorData::I32((1..=6).collect());
        let write = |shape: &[usize]| {
            let mut out = Vec::new();
            write_nested(&mut out, shape, &data);
            String::from_utf8(out).unwrap_or_default()
        };
        assert_eq!(write(&[2, 3]), "[[1,2,3],[4,5,6]]");
        assert_eq!(write(&[3, 1, 2]), "[[[1,2]],[[3,4]],[[5,6]]]");
        assert_eq!(write(&[6]), "[1,2,3,4,5,6]");
        // Not the shape of the data: flat.
        assert_eq!(write(&[2, 2]), "[1,2,3,4,5,6]");
        let empty = TensorData::F32(vec![]);
        let mut out = Vec::new();
        write_nested(&mut out, &[2, 0], &empty);
        assert_eq!(out, b"[[],[]]");
        out.clear();
        write_nested(&mut out, &[0, 2], &empty);
        assert_eq!(out, b"[]");
    }
}
