//! A model's traffic over the last hour, across every replica: request rate, error ratio and
//! p99 latency per minute, asked of the Prometheus server that scrapes Depot (the console's
//! charts). A replica keeps no history of its own; without a configured Prometheus there is
//! none to show.

use std::time::Duration;

use chrono::{DateTime, Utc};
use depot_catalog::Catalog;
use depot_domain::{ModelName, Permission};
use serde::Deserialize;

use crate::auth::Actor;
use crate::error::{Error, ErrorCode};

/// One series: (time, value) pairs, one a minute; a minute without data is absent.
pub type Series = Vec<(DateTime<Utc>, f64)>;

/// A model's last hour.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Traffic {
    /// Predictions a second (all versions, all replicas), over 5-minute windows.
    pub requests_per_s: Series,
    /// The share of predictions that failed.
    pub error_ratio: Series,
    /// The 99th percentile of the time in the server, in seconds.
    pub p99_s: Series,
}

/// Asks Prometheus; `None` when no Prometheus is configured.
#[derive(Debug, Clone)]
pub struct TrafficSource {
    catalog: Catalog,
    prometheus: Option<(reqwest::Client, String)>,
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    result: Vec<Matrix>,
}

#[derive(Deserialize)]
struct Matrix {
    values: Vec<(f64, String)>,
}

const WINDOW: Duration = Duration::from_secs(3600);
const STEP: Duration = Duration::from_secs(60);

impl TrafficSource {
    /// `prometheus_url`: the base URL of the Prometheus HTTP API (e.g. `http://prometheus:9090`).
    pub fn new(catalog: Catalog, prometheus_url: Option<&str>) -> Self {
        let prometheus = prometheus_url.map(|url| {
            let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap_or_default();
            (client, url.trim_end_matches('/').to_owned())
        });
        Self { catalog, prometheus }
    }

    pub fn configured(&self) -> bool {
        self.prometheus.is_some()
    }

    /// The model's last hour, when a Prometheus is configured. Needs the reader role on it.
    pub async fn model(&self, actor: &Actor, model: &ModelName) -> Result<Option<Traffic>, Error> {
        actor.require(Permission::Read, model)?;
        self.catalog.get_model(model).await?;
        let Some((client, base)) = &self.prometheus else { return Ok(None) };
        // A model name is [a-z0-9._-]: safe inside a PromQL string.
        let selector = format!("model=\"{model}\"");
        let all = format!("sum(rate(depot_inference_requests_total{{{selector}}}[5m]))");
        let failed = format!("sum(rate(depot_inference_requests_total{{{selector},outcome!=\"success\"}}[5m]))");
        let p99 = format!(
            "histogram_quantile(0.99, sum by (le) (rate(depot_inference_duration_seconds_bucket{{{selector}}}[5m])))"
        );
        let ratio = format!("({failed} or vector(0)) / {all}");
        let (requests_per_s, error_ratio, p99_s) =
            tokio::try_join!(range(client, base, &all), range(client, base, &ratio), range(client, base, &p99))?;
        Ok(Some(Traffic { requests_per_s, error_ratio, p99_s }))
    }
}

/// A range query over the last hour, one point a minute.
async fn range(client: &reqwest::Client, base: &str, query: &str) -> Result<Series, Error> {
    // Now to the millisecond: a whole second would end the series up to a second before the
    // newest samples (with few samples, before the first rate can be computed).
    let end = Utc::now().timestamp_millis() as f64 / 1e3;
    let start = end - WINDOW.as_secs_f64();
    let unavailable = |reason: String| {
        Error::new(
            ErrorCode::Unavailable,
            format!("the metrics source (Prometheus at {base}) is unavailable: {reason}"),
        )
    };
    let response = client
        .get(format!("{base}/api/v1/query_range"))
        .query(&[
            ("query", query.to_owned()),
            ("start", start.to_string()),
            ("end", end.to_string()),
            ("step", STEP.as_secs().to_string()),
        ])
        .send()
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    let answer: Answer = response.json().await.map_err(|e| unavailable(format!("unreadable answer: {e}")))?;
    if answer.status != "success" {
        return Err(unavailable(answer.error.unwrap_or_else(|| "query failed".to_owned())));
    }
    let matrix = answer.data.map(|d| d.result).unwrap_or_default();
    Ok(matrix
        .into_iter()
        .next()
        .map(|m| {
            m.values
                .into_iter()
                .filter_map(|(at, value)| {
                    let value: f64 = value.parse().ok().filter(|v: &f64| v.is_finite())?;
                    Some((DateTime::from_timestamp(at as i64, 0)?, value))
                })
                .collect()
        })
        .unwrap_or_default())
}
