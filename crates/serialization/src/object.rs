//! JSON objects only, where serde would also take an array.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

/// `T` deserialized from a JSON object only. serde's derived `Deserialize` of a struct also
/// takes an array of its fields' values, in order (`[null, [..]]` for `{"id": .., "inputs":
/// ..}`), which no schema of Depot's allows, and whose errors then read oddly ("invalid type:
/// map, expected a string"). Through this, anything but an object fails with "expected a JSON
/// object". What the object holds is read by `T` as usual: the fields' values come from the
/// same deserializer, so `serde_json`'s positions, borrowing and `RawValue` work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JsonObject<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for JsonObject<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = T;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }

        deserializer.deserialize_map(ObjectVisitor(PhantomData)).map(JsonObject)
    }
}

/// For `#[serde(deserialize_with = "..")]` on a field holding a struct: [`JsonObject`].
pub fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<T, D::Error> {
    JsonObject::<T>::deserialize(deserializer).map(|o| o.0)
}

/// [`object`] for an `Option` field: a JSON object or `null`. (Add `#[serde(default)]` so an
/// absent field is `None`.)
pub fn optional_object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    Option::<JsonObject<T>>::deserialize(deserializer).map(|o| o.map(|o| o.0))
}

/// [`object`] for each item of an array.
pub fn objects<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Vec<T>, D::Error> {
    Vec::<JsonObject<T>>::deserialize(deserializer).map(|items| items.into_iter().map(|o| o.0).collect())
}

/// [`objects`] for an `Option` field: an array of objects, or `null`.
pub fn optional_objects<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Vec<T>>, D::Error> {
    Option::<Vec<JsonObject<T>>>::deserialize(deserializer)
        .map(|items| items.map(|items| items.into_iter().map(|o| o.0).collect()))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        a: u32,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Outer {
        #[serde(default, deserialize_with = "optional_object")]
        inner: Option<Inner>,
        #[serde(default, deserialize_with = "objects")]
        items: Vec<Inner>,
    }

    fn parse(json: &str) -> Result<Outer, String> {
        serde_json::from_str::<JsonObject<Outer>>(json).map(|o| o.0).map_err(|e| e.to_string())
    }

    #[test]
    fn objects_are_read_as_usual() {
        let outer = parse(r#"{"inner": {"a": 1}, "items": [{"a": 2}]}"#).expect("an object");
        assert_eq!(outer, Outer { inner: Some(Inner { a: 1 }), items: vec![Inner { a: 2 }] });
        assert_eq!(parse(r#"{"inner": null}"#).expect("null"), Outer { inner: None, items: vec![] });
        let error = parse(r#"{"inner": {"a": "x"}}"#).expect_err("a string for a number");
        assert!(error.contains("expected u32 at line 1 column 19"), "{error}");
    }

    #[test]
    fn arrays_are_refused_where_an_object_is_expected() {
        for json in [r#"[null, []]"#, r#"{"inner": [1]}"#, r#"{"items": [[2]]}"#, r#""text""#, "5"] {
            let error = parse(json).expect_err(json);
            assert!(error.contains("expected a JSON object"), "{json}: {error}");
        }
    }
}
