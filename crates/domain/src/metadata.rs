use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetadataError {
    #[error("metric {name:?} is not a finite number")]
    NonFiniteMetric { name: String },
    #[error("metadata is {actual} bytes as JSON; at most {limit} are allowed")]
    TooLarge { limit: usize, actual: usize },
    #[error("{field} is {actual} characters long; at most {limit} are allowed")]
    FieldTooLong { field: &'static str, limit: usize, actual: usize },
    #[error("{field} contains a NUL character (\\u0000), which cannot be stored; remove it")]
    NulCharacter { field: String },
}

/// Refuses text PostgreSQL cannot store (a NUL character), naming the field.
pub fn check_text(field: &str, value: &str) -> Result<(), MetadataError> {
    if value.contains('\0') { Err(MetadataError::NulCharacter { field: field.to_owned() }) } else { Ok(()) }
}

/// [`check_text`] over every key and string of a JSON value.
fn check_json(field: &str, value: &serde_json::Value) -> Result<(), MetadataError> {
    match value {
        serde_json::Value::String(s) => check_text(field, s),
        serde_json::Value::Array(items) => items.iter().try_for_each(|v| check_json(field, v)),
        serde_json::Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            check_text(field, k)?;
            check_json(field, v)
        }),
        _ => Ok(()),
    }
}

/// Where a version came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lineage {
    /// Identifier of the training run (an MLflow run id, a CI job URL, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_run: Option<String>,
    /// Source-code revision the model was trained from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Dataset name, version or URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
}

/// Free metadata about a version, supplied by its uploader and editable later.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionMetadata {
    /// Training framework, such as `scikit-learn 1.7` or `pytorch 2.9`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<String>,
    /// Evaluation metrics by name.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// Hyper-parameters by name, any JSON value.
    #[serde(default)]
    pub parameters: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub lineage: Lineage,
}

impl VersionMetadata {
    /// Largest metadata document accepted, serialized as JSON.
    pub const MAX_JSON_BYTES: usize = 64 * 1024;
    const MAX_FIELD_LEN: usize = 1024;

    pub fn validate(&self) -> Result<(), MetadataError> {
        if let Some((name, _)) = self.metrics.iter().find(|(_, v)| !v.is_finite()) {
            return Err(MetadataError::NonFiniteMetric { name: name.clone() });
        }
        let fields = [
            ("framework", &self.framework),
            ("lineage.source_run", &self.lineage.source_run),
            ("lineage.commit", &self.lineage.commit),
            ("lineage.dataset", &self.lineage.dataset),
        ];
        for (field, value) in fields {
            if let Some(v) = value.as_deref().filter(|v| v.len() > Self::MAX_FIELD_LEN) {
                return Err(MetadataError::FieldTooLong { field, limit: Self::MAX_FIELD_LEN, actual: v.len() });
            }
            check_text(&format!("metadata.{field}"), value.as_deref().unwrap_or(""))?;
        }
        for name in self.metrics.keys() {
            check_text("metadata.metrics", name)?;
        }
        for (name, value) in &self.parameters {
            check_text("metadata.parameters", name)?;
            check_json(&format!("metadata.parameters.{}", name.replace('\0', "")), value)?;
        }
        let size = serde_json::to_vec(self).map(|v| v.len()).unwrap_or(usize::MAX);
        if size > Self::MAX_JSON_BYTES {
            return Err(MetadataError::TooLarge { limit: Self::MAX_JSON_BYTES, actual: size });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unknown_fields_and_bad_metrics() {
        let ok: VersionMetadata =
            serde_json::from_str(r#"{"framework":"sklearn","metrics":{"auc":0.91},"lineage":{"commit":"abc123"}}"#)
                .expect("valid metadata");
        assert_eq!(ok.validate(), Ok(()));
        assert!(serde_json::from_str::<VersionMetadata>(r#"{"framwork":"x"}"#).is_err());
        let long = VersionMetadata { framework: Some("x".repeat(2000)), ..Default::default() };
        assert!(matches!(long.validate(), Err(MetadataError::FieldTooLong { .. })));
        let big = VersionMetadata {
            parameters: (0..5000).map(|i| (format!("p{i}"), serde_json::json!("some value"))).collect(),
            ..Default::default()
        };
        assert!(matches!(big.validate(), Err(MetadataError::TooLarge { .. })));
        // PostgreSQL stores no NUL in text or JSON: refused wherever it hides, naming the field.
        let nul: VersionMetadata =
            serde_json::from_str(r#"{"parameters":{"layers":[1,{"name":"a\u0000b"}]}}"#).expect("parses");
        let error = nul.validate().expect_err("NUL in a nested parameter");
        assert_eq!(error, MetadataError::NulCharacter { field: "metadata.parameters.layers".into() });
        let nul = VersionMetadata {
            lineage: Lineage { commit: Some("ab\0c".into()), ..Default::default() },
            ..Default::default()
        };
        assert!(nul.validate().expect_err("NUL").to_string().contains("metadata.lineage.commit"));
    }
}
