//! What the command line prints: tables (comfy-table) with relative times and sizes for people,
//! the server's JSON for scripts, and a progress bar (indicatif) on stderr, drawn only when
//! stderr is a terminal.

use std::path::Path;

use comfy_table::{ContentArrangement, Table, presets};
use serde_json::Value;

/// How a column shows its field.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    Time,
    Bytes,
    Grants,
}

/// A column of a table: its header and the JSON field it shows.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    header: &'static str,
    field: &'static str,
    kind: Kind,
}

impl Column {
    pub fn text(header: &'static str, field: &'static str) -> Self {
        Self { header, field, kind: Kind::Text }
    }

    /// A timestamp, shown relative to now ("3 minutes ago").
    pub fn time(header: &'static str, field: &'static str) -> Self {
        Self { header, field, kind: Kind::Time }
    }

    pub fn bytes(header: &'static str, field: &'static str) -> Self {
        Self { header, field, kind: Kind::Bytes }
    }

    /// A token's grants, as `role:pattern` pairs.
    pub fn grants(header: &'static str, field: &'static str) -> Self {
        Self { header, field, kind: Kind::Grants }
    }

    fn cell(&self, row: &Value) -> String {
        let value = &row[self.field];
        match self.kind {
            Kind::Time => relative(value),
            Kind::Bytes => value.as_u64().map(bytes).unwrap_or_default(),
            Kind::Grants => value
                .as_array()
                .into_iter()
                .flatten()
                .map(|g| format!("{}:{}", g["role"].as_str().unwrap_or(""), g["models"].as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(" "),
            Kind::Text => text(value),
        }
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// Prints rows (a JSON array of objects) as aligned columns, headers first.
pub fn print_table(rows: &Value, columns: &[Column]) {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING).set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(columns.iter().map(|c| c.header));
    for row in rows.as_array().into_iter().flatten() {
        table.add_row(columns.iter().map(|c| c.cell(row)));
    }
    for line in table.to_string().lines() {
        // The preset pads every cell by one space on each side: drop the row's first.
        let line = line.strip_prefix(' ').unwrap_or(line);
        println!("{}", line.trim_end());
    }
}

pub fn print_json(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// "3 minutes ago", "in 2 hours"; empty for null.
pub fn relative(value: &Value) -> String {
    let Some(at) = value.as_str().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()) else {
        return text(value);
    };
    let seconds = (chrono::Utc::now() - at.with_timezone(&chrono::Utc)).num_seconds();
    let (amount, future) = (seconds.unsigned_abs(), seconds < 0);
    let span = match amount {
        0..=59 => return if future { "in a moment".to_owned() } else { "just now".to_owned() },
        60..=3_599 => plural(amount / 60, "minute"),
        3_600..=86_399 => plural(amount / 3_600, "hour"),
        86_400..=2_591_999 => plural(amount / 86_400, "day"),
        _ => return at.format("%Y-%m-%d").to_string(),
    };
    if future { format!("in {span}") } else { format!("{span} ago") }
}

fn plural(n: u64, unit: &str) -> String {
    if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") }
}

/// 1.5 MiB, 320 B.
pub fn bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", units[unit]) }
}

/// An upload's progress: bytes, rate and ETA on stderr when it is a terminal; nothing otherwise.
pub struct Progress {
    bar: indicatif::ProgressBar,
}

impl Progress {
    pub fn new(size: u64, file: &Path) -> Self {
        let bar = indicatif::ProgressBar::with_draw_target(Some(size), indicatif::ProgressDrawTarget::stderr());
        let style = indicatif::ProgressStyle::with_template(
            "{msg} {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(file.file_name().and_then(|n| n.to_str()).unwrap_or("upload").to_owned());
        Self { bar }
    }

    pub fn wrap<R: tokio::io::AsyncRead + Unpin>(&self, reader: R) -> indicatif::ProgressBarIter<R> {
        self.bar.wrap_async_read(reader)
    }

    pub fn finish(&self, ok: bool) {
        if ok { self.bar.finish() } else { self.bar.abandon() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times_read_as_people_say_them() {
        assert_eq!(bytes(320), "320 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
        let ago = |s: i64| Value::String((chrono::Utc::now() - chrono::Duration::seconds(s)).to_rfc3339());
        assert_eq!(relative(&ago(5)), "just now");
        assert_eq!(relative(&ago(125)), "2 minutes ago");
        assert_eq!(relative(&ago(3 * 3600 + 5)), "3 hours ago");
        assert_eq!(relative(&ago(-(86_400 + 60))), "in 1 day");
        assert_eq!(relative(&Value::Null), "");
    }
}
