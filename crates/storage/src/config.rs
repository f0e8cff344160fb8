use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::prefix::PrefixStore;
use serde::Deserialize;
use url::Url;

use crate::StorageError;

/// Where artifacts are stored.
///
/// `url` is a local directory path (the default, `./.depot/artifacts`), `file:///abs/dir`,
/// `memory://` (tests only: nothing survives a restart), `s3://bucket/prefix`,
/// `gs://bucket/prefix` or `az://container/prefix`. `options` go to the object_store builder of
/// that scheme (for S3: `endpoint`, `region`, `access_key_id`, `secret_access_key`,
/// `allow_http`, `virtual_hosted_style_request`, ...); what they leave out is read from the usual
/// environment variables (`AWS_*`, `GOOGLE_*`, `AZURE_*`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub url: String,
    #[serde(deserialize_with = "scalar_map")]
    pub options: BTreeMap<String, String>,
}

/// Option values as text, also when a configuration layer (environment variables) typed them as
/// booleans or numbers (`allow_http = true`).
fn scalar_map<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Bool(bool),
        Int(i64),
        Float(f64),
    }
    let raw = BTreeMap::<String, Scalar>::deserialize(deserializer)?;
    Ok(raw
        .into_iter()
        .map(|(key, value)| {
            let text = match value {
                Scalar::Text(s) => s,
                Scalar::Bool(b) => b.to_string(),
                Scalar::Int(i) => i.to_string(),
                Scalar::Float(f) => f.to_string(),
            };
            (key.to_ascii_lowercase(), text)
        })
        .collect())
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self { url: "./.depot/artifacts".to_owned(), options: BTreeMap::new() }
    }
}

/// Secrets (keys, tokens, passwords) never reach a log line.
impl fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let options: BTreeMap<&str, &str> = self
            .options
            .iter()
            .map(|(k, v)| {
                let lower = k.to_ascii_lowercase();
                let secret =
                    ["secret", "key", "token", "password", "sas", "credential"].iter().any(|s| lower.contains(s))
                        && !lower.ends_with("key_id");
                (k.as_str(), if secret { "<redacted>" } else { v.as_str() })
            })
            .collect();
        f.debug_struct("StorageConfig").field("url", &self.url).field("options", &options).finish()
    }
}

impl StorageConfig {
    /// The directory of a local store (a bare path or `file://`); `None` for anything else.
    pub(crate) fn local_root(&self) -> Option<PathBuf> {
        match Url::parse(&self.url) {
            Ok(url) if url.scheme() == "file" => url.to_file_path().ok(),
            Ok(url) if url.scheme().len() > 1 => None,
            _ => Some(PathBuf::from(&self.url)),
        }
    }

    /// Builds the object store this configuration names. A local directory is created if missing.
    pub(crate) fn build(&self) -> Result<Arc<dyn ObjectStore>, StorageError> {
        let config_error = |reason: String| StorageError::Config { reason };
        let url = match Url::parse(&self.url) {
            Ok(url) if url.scheme().len() > 1 => url,
            // A bare path (or a Windows drive letter) is a local directory.
            _ => return local_store(PathBuf::from(&self.url)),
        };
        match url.scheme() {
            "file" => {
                let path =
                    url.to_file_path().map_err(|()| config_error(format!("{} is not a local path", self.url)))?;
                local_store(path)
            }
            "memory" => Ok(Arc::new(InMemory::new())),
            "s3" | "s3a" => self.cloud_store(
                &url,
                object_store::aws::AmazonS3Builder::from_env().with_url(url.as_str()).with_retry(retry()),
                |b, k: object_store::aws::AmazonS3ConfigKey, v| b.with_config(k, v),
                |b| b.build(),
            ),
            "gs" => self.cloud_store(
                &url,
                object_store::gcp::GoogleCloudStorageBuilder::from_env().with_url(url.as_str()).with_retry(retry()),
                |b, k: object_store::gcp::GoogleConfigKey, v| b.with_config(k, v),
                |b| b.build(),
            ),
            "az" | "azure" | "abfs" | "abfss" => self.cloud_store(
                &url,
                object_store::azure::MicrosoftAzureBuilder::from_env().with_url(url.as_str()).with_retry(retry()),
                |b, k: object_store::azure::AzureConfigKey, v| b.with_config(k, v),
                |b| b.build(),
            ),
            other => Err(config_error(format!(
                "unsupported storage scheme {other:?}: use a directory path, file://, s3://, gs://, az:// or memory://"
            ))),
        }
    }
}

impl StorageConfig {
    /// Applies `options` (strictly: an unknown key is an error, not silently ignored) to a cloud
    /// builder that already read the environment, and puts the URL's path in front of every key.
    fn cloud_store<B, K, S>(
        &self,
        url: &Url,
        builder: B,
        with_config: impl Fn(B, K, String) -> B,
        build: impl FnOnce(B) -> object_store::Result<S>,
    ) -> Result<Arc<dyn ObjectStore>, StorageError>
    where
        K: std::str::FromStr<Err = object_store::Error>,
        S: ObjectStore,
    {
        let mut builder = builder;
        for (key, value) in &self.options {
            let parsed = key.to_ascii_lowercase().parse::<K>().map_err(|e| StorageError::Config {
                reason: format!("storage option {key:?} is not understood for {}: {e}", url.scheme()),
            })?;
            builder = with_config(builder, parsed, value.clone());
        }
        let store: Arc<dyn ObjectStore> = Arc::new(
            build(builder).map_err(|e| StorageError::Config { reason: format!("cannot use {}: {e}", self.url) })?,
        );
        let prefix = url.path().trim_matches('/');
        if prefix.is_empty() {
            Ok(store)
        } else {
            Ok(Arc::new(PrefixStore::new(store, object_store::path::Path::from(prefix))))
        }
    }
}

/// Retries of a failed request to a cloud store: a few, within seconds, so that a store that
/// is down turns an upload or a load into a 503 quickly instead of after object_store's default
/// three minutes.
fn retry() -> object_store::RetryConfig {
    object_store::RetryConfig {
        backoff: object_store::BackoffConfig::default(),
        max_retries: 4,
        retry_timeout: std::time::Duration::from_secs(10),
    }
}

fn local_store(path: PathBuf) -> Result<Arc<dyn ObjectStore>, StorageError> {
    std::fs::create_dir_all(&path)
        .map_err(|e| StorageError::Config { reason: format!("cannot create {}: {e}", path.display()) })?;
    let store = LocalFileSystem::new_with_prefix(&path)
        .map_err(|e| StorageError::Config { reason: format!("cannot use {}: {e}", path.display()) })?;
    Ok(Arc::new(store))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets_but_keeps_ids() {
        let config = StorageConfig {
            url: "s3://bucket".into(),
            options: [("access_key_id", "AKIA1"), ("secret_access_key", "hunter2"), ("endpoint", "http://x")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("AKIA1") && printed.contains("http://x"), "{printed}");
    }

    #[test]
    fn rejects_unknown_schemes() {
        let config = StorageConfig { url: "ftp://host/dir".into(), ..Default::default() };
        assert!(matches!(config.build(), Err(StorageError::Config { .. })));
    }
}
