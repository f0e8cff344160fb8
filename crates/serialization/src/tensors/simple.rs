//! Depot's simple JSON API: `{"inputs": {"<name>": <value>}}` in, `{"<name>": {"datatype",
//! "shape", "data"}}` out.

use std::fmt;
use std::marker::PhantomData;

use depot_domain::{NamedTensor, Signature, Tensor, TensorData, ValidatedInputs, ValidationError};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::EncodingError;
use super::element::{Element, Scalar, with_element_type, with_values};
use super::inputs::{check_length, check_stated_datatype, declared_datatype, stated_shape};
use super::json::{
    Cx, DataSeed, Failure, Nested, base64_string, nestable, put, put_datatype, put_shape, scalar_root, seq_root,
    visit_scalars, write_nested,
};
use super::scan::{self, Scanner};

/// Decodes the body of a simple-API prediction request, `{"inputs": {"<name>": <value>}}`,
/// into tensors of the element types `signature` declares.
///
/// Each value is nested arrays, whose nesting gives the shape (a bare value is a scalar, shape
/// `[]`), or `{"data": <flat or nested>, "shape": [..]?, "datatype": ".."?}`: with `shape`, the
/// data's nesting is ignored and only its element count must match; a `datatype` must be the
/// model's. The inputs come back as [`ValidatedInputs`]: they have passed
/// [`validate_inputs`](depot_domain::validate_inputs) against `signature` and are in the
/// signature's input order, whatever the request's order.
pub fn decode_simple_inputs(body: &[u8], signature: &Signature) -> Result<ValidatedInputs, EncodingError> {
    let inputs = match decode_fast(body, signature) {
        Some(inputs) => inputs,
        None => decode_serde(body, signature)?,
    };
    Ok(ValidatedInputs::new(signature, inputs)?)
}

/// The serde path of [`decode_simple_inputs`]: every form, and every error.
pub(super) fn decode_serde(body: &[u8], signature: &Signature) -> Result<Vec<NamedTensor>, EncodingError> {
    let failure = Failure::default();
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    BodySeed { signature, failure: &failure }
        .deserialize(&mut deserializer)
        .and_then(|inputs| deserializer.end().map(|()| inputs))
        .map_err(|e| failure.resolve(e))
}

/// The fast path of [`decode_simple_inputs`] (see [`scan`](super::scan)): a body whose inputs
/// are all numbers, `true`, `false` or `null`, bare or in nested arrays or in the object form,
/// with names and keys written without escapes, decoded to exactly what [`decode_serde`]
/// decodes. `None` for anything else and for anything [`decode_serde`] refuses, which it then
/// reads again.
pub(super) fn decode_fast(body: &[u8], signature: &Signature) -> Option<Vec<NamedTensor>> {
    let mut s = Scanner::new(body);
    s.ws();
    s.eat(b'{')?;
    s.ws();
    if s.string()? != "inputs" {
        return None;
    }
    s.ws();
    s.eat(b':')?;
    s.ws();
    s.eat(b'{')?;
    s.ws();
    let mut inputs: Vec<NamedTensor> = Vec::with_capacity(signature.inputs.len());
    if s.peek()? == b'}' {
        s.next_byte()?;
    } else {
        loop {
            let name = s.string()?;
            s.ws();
            s.eat(b':')?;
            s.ws();
            let datatype = declared_datatype(signature, name).ok()?;
            if inputs.iter().any(|input| input.name == name) {
                return None;
            }
            let failure = Failure::default();
            let cx = Cx { name, failure: &failure };
            let tensor = with_element_type!(datatype, T => fast_input::<T>(&mut s, cx)?, unsupported => return None);
            inputs.push(NamedTensor::new(name, tensor));
            s.ws();
            match s.next_byte()? {
                b',' => s.ws(),
                b'}' => break,
                _ => return None,
            }
        }
    }
    s.ws();
    s.eat(b'}')?;
    s.ws();
    s.at_end().then_some(inputs)
}

/// One input's value on the fast path, as [`InputSeed`] reads it.
fn fast_input<T: Element>(s: &mut Scanner<'_>, cx: Cx<'_>) -> Option<Tensor> {
    if s.peek()? != b'{' {
        return scan::data::<T>(s, cx).map(Nested::into_tensor);
    }
    s.eat(b'{')?;
    s.ws();
    let (mut data, mut shape, mut datatype) = (None, None, None);
    if s.peek()? == b'}' {
        // No `data`.
        return None;
    }
    loop {
        let key = s.string()?;
        s.ws();
        s.eat(b':')?;
        s.ws();
        match key {
            "data" if data.is_none() => data = Some(scan::data::<T>(s, cx)?),
            "shape" if shape.is_none() => shape = Some(scan::integers(s)?),
            "datatype" if datatype.is_none() => datatype = Some(s.string()?),
            _ => return None,
        }
        s.ws();
        match s.next_byte()? {
            b',' => s.ws(),
            b'}' => break,
            _ => return None,
        }
    }
    object_tensor(cx.name, data?, shape.as_deref(), datatype).ok()
}

/// The `outputs` object of a simple-API response, `{"<name>": {"datatype", "shape", "data"}}`,
/// with `data` nested by the shape, as a JSON value.
///
/// Holds the same values as [`write_simple_response`] writes: FP32 elements are carried as the
/// `f64` nearest to their shortest decimal form, so that `0.1f32` prints as `0.1`. For the
/// response body itself, prefer [`write_simple_response`], which builds no tree.
pub fn encode_simple_outputs(outputs: &[NamedTensor]) -> Value {
    let map = outputs
        .iter()
        .map(|output| {
            let tensor = &output.tensor;
            let mut object = serde_json::Map::new();
            object.insert("datatype".to_owned(), Value::from(tensor.datatype().as_str()));
            object.insert("shape".to_owned(), Value::from(tensor.shape.clone()));
            object.insert("data".to_owned(), data_value(&tensor.shape, &tensor.data));
            (output.name.clone(), Value::Object(object))
        })
        .collect();
    Value::Object(map)
}

/// Appends a simple-API response body to `out`:
/// `{"model": "<model>", "version": <version>, "outputs": {"<name>": {"datatype", "shape",
/// "data"}}}`, with `data` nested by the shape (see the [module documentation](super) for NaN
/// and non-UTF-8 BYTES). Outputs are written in the order given.
pub fn write_simple_response(out: &mut Vec<u8>, model: &str, version: u32, outputs: &[NamedTensor]) {
    // A guess at ~12 bytes an element, to spare most reallocations.
    out.reserve(64 + outputs.iter().map(|o| 32 + o.name.len() + o.tensor.len() * 12).sum::<usize>());
    out.extend_from_slice(b"{\"model\":");
    put(out, model);
    out.extend_from_slice(b",\"version\":");
    put(out, &version);
    out.extend_from_slice(b",\"outputs\":{");
    for (i, output) in outputs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let tensor = &output.tensor;
        put(out, output.name.as_str());
        out.extend_from_slice(b":{\"datatype\":");
        put_datatype(out, tensor.datatype());
        out.extend_from_slice(b",\"shape\":");
        put_shape(out, &tensor.shape);
        out.extend_from_slice(b",\"data\":");
        write_nested(out, &tensor.shape, &tensor.data);
        out.push(b'}');
    }
    out.extend_from_slice(b"}}");
}

/// The top-level keys of a request body.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum BodyField {
    Inputs,
}

/// The keys of an input given as an object.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum InputField {
    Data,
    Shape,
    Datatype,
}

/// The request body: `{"inputs": {..}}`.
struct BodySeed<'a> {
    signature: &'a Signature,
    failure: &'a Failure,
}

impl<'de> DeserializeSeed<'de> for BodySeed<'_> {
    type Value = Vec<NamedTensor>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BodySeed<'_> {
    type Value = Vec<NamedTensor>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"an object {"inputs": {"<input name>": <value>, ...}}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut inputs = None;
        while let Some(BodyField::Inputs) = map.next_key()? {
            if inputs.is_some() {
                return Err(de::Error::duplicate_field("inputs"));
            }
            inputs = Some(map.next_value_seed(InputsSeed { signature: self.signature, failure: self.failure })?);
        }
        inputs.ok_or_else(|| de::Error::missing_field("inputs"))
    }
}

/// The `inputs` object: each input by name.
struct InputsSeed<'a> {
    signature: &'a Signature,
    failure: &'a Failure,
}

impl<'de> DeserializeSeed<'de> for InputsSeed<'_> {
    type Value = Vec<NamedTensor>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for InputsSeed<'_> {
    type Value = Vec<NamedTensor>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"an object {"<input name>": <value>, ...}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let failure = self.failure;
        let mut inputs: Vec<NamedTensor> = Vec::with_capacity(self.signature.inputs.len());
        while let Some(name) = map.next_key::<String>()? {
            let datatype = declared_datatype(self.signature, &name).map_err(|e| failure.raise(e))?;
            if inputs.iter().any(|input| input.name == name) {
                return Err(failure.raise(ValidationError::DuplicateInput { name }.into()));
            }
            let cx = Cx { name: &name, failure };
            let tensor = with_element_type!(
                datatype,
                T => map.next_value_seed(InputSeed::<T> { cx, element: PhantomData }),
                unsupported => return Err(failure.raise(EncodingError::UnsupportedDatatype { name, datatype }))
            );
            // Name the input in errors that serde raised inside it.
            let tensor = tensor.map_err(|e| {
                if failure.is_raised() {
                    e
                } else {
                    failure.raise(EncodingError::InputMalformed { name: name.clone(), message: e.to_string() })
                }
            })?;
            inputs.push(NamedTensor::new(name, tensor));
        }
        Ok(inputs)
    }
}

/// One input's value: nested arrays, a scalar, or `{"data", "shape"?, "datatype"?}`.
struct InputSeed<'a, T> {
    cx: Cx<'a>,
    element: PhantomData<T>,
}

impl<T: Element> InputSeed<'_, T> {
    fn scalar<E: de::Error>(self, value: Scalar<'_>) -> Result<Tensor, E> {
        scalar_root::<T, E>(value, self.cx).map(Nested::into_tensor)
    }
}

impl<'de, T: Element> DeserializeSeed<'de> for InputSeed<'_, T> {
    type Value = Tensor;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Tensor, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, T: Element> Visitor<'de> for InputSeed<'_, T> {
    type Value = Tensor;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, r#"{} elements, nested arrays of them, or {{"data": .., "shape": [..]}}"#, T::DATATYPE)
    }

    visit_scalars!();

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Tensor, A::Error> {
        seq_root::<T, A>(seq, self.cx).map(Nested::into_tensor)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tensor, A::Error> {
        let cx = self.cx;
        let (mut data, mut shape, mut datatype) = (None, None::<Vec<i64>>, None::<String>);
        while let Some(field) = map.next_key()? {
            match field {
                InputField::Data if data.is_some() => return Err(de::Error::duplicate_field("data")),
                InputField::Shape if shape.is_some() => return Err(de::Error::duplicate_field("shape")),
                InputField::Datatype if datatype.is_some() => return Err(de::Error::duplicate_field("datatype")),
                InputField::Data => data = Some(map.next_value_seed(DataSeed::<T>::new(cx))?),
                InputField::Shape => shape = Some(map.next_value()?),
                InputField::Datatype => datatype = Some(map.next_value()?),
            }
        }
        let data: Nested<T> = data.ok_or_else(|| de::Error::missing_field("data"))?;
        object_tensor(cx.name, data, shape.as_deref(), datatype.as_deref()).map_err(|e| cx.failure.raise(e))
    }
}

/// The tensor an input given as an object stands for.
fn object_tensor<T: Element>(
    name: &str,
    data: Nested<T>,
    shape: Option<&[i64]>,
    datatype: Option<&str>,
) -> Result<Tensor, EncodingError> {
    if let Some(datatype) = datatype {
        check_stated_datatype(name, datatype, T::DATATYPE)?;
    }
    let Some(shape) = shape else {
        return Ok(data.into_tensor());
    };
    let (shape, count) = stated_shape(name, shape)?;
    check_length(name, &shape, count, data.len())?;
    let (_, values) = data.into_parts();
    Ok(Tensor::new(shape, T::into_data(values)))
}

/// `data` as JSON arrays nested by `shape`, or flat if it does not fill the shape.
fn data_value(shape: &[usize], data: &TensorData) -> Value {
    let shape = if nestable(shape, data.len()) { shape } else { &[data.len()][..] };
    with_values!(data, values => nest_value(shape, values))
}

fn nest_value<T: ToValue>(shape: &[usize], values: &[T]) -> Value {
    match shape {
        [] => values.first().map_or(Value::Null, ToValue::to_value),
        [_] => Value::Array(values.iter().map(ToValue::to_value).collect()),
        [outer, inner @ ..] => {
            let stride = inner.iter().product::<usize>();
            let chunk = |i: usize| values.get(i * stride..(i + 1) * stride).unwrap_or_default();
            Value::Array((0..*outer).map(|i| nest_value(inner, chunk(i))).collect())
        }
    }
}

/// One element as a JSON value.
trait ToValue {
    fn to_value(&self) -> Value;
}

macro_rules! to_value_by_from {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                // Non-finite floats become null.
                Value::from(*self)
            }
        }
    )*};
}

to_value_by_from!(bool, u8, u16, u32, u64, i8, i16, i32, i64, f64);

impl ToValue for f32 {
    fn to_value(&self) -> Value {
        // The shortest decimal that reads back as this f32, read as an f64.
        format!("{self}").parse::<f64>().map_or(Value::Null, Value::from)
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        match std::str::from_utf8(self) {
            Ok(s) => Value::from(s),
            Err(_) => serde_json::json!({ "b64": base64_string(self) }),
        }
    }
}
