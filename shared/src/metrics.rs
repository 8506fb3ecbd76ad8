//! CloudWatch Embedded Metric Format: one JSON line per invocation on stdout,
//! which CloudWatch Logs turns into metrics without any API call.
//! Metrics go to the [`NAMESPACE`] namespace with a `FunctionName` dimension
//! (the `AWS_LAMBDA_FUNCTION_NAME` Lambda sets), which template.yaml's alarms
//! use.

use std::io::Write as _;

use serde::Serialize;
use serde_json::{Map, Value};

/// The CloudWatch namespace of every metric the functions emit.
pub const NAMESPACE: &str = "ChatPipeline";

/// The CloudWatch unit of a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Unit {
    Count,
    Bytes,
    Milliseconds,
}

/// One metric value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub value: f64,
    pub unit: Unit,
}

impl Metric {
    pub fn count(name: &'static str, value: usize) -> Self {
        Metric {
            name,
            value: value as f64,
            unit: Unit::Count,
        }
    }

    pub fn bytes(name: &'static str, value: usize) -> Self {
        Metric {
            name,
            value: value as f64,
            unit: Unit::Bytes,
        }
    }

    pub fn millis(name: &'static str, value: f64) -> Self {
        Metric {
            name,
            value,
            unit: Unit::Milliseconds,
        }
    }
}

/// The function name used as the metric dimension.
pub(crate) fn function_name() -> String {
    std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".to_owned())
}

/// Renders one EMF line (without the trailing newline).
pub(crate) fn emf_line(function_name: &str, metrics: &[Metric], timestamp_millis: i64) -> String {
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|m| serde_json::json!({"Name": m.name, "Unit": m.unit}))
        .collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        serde_json::json!({
            "Timestamp": timestamp_millis,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["FunctionName"]],
                "Metrics": definitions,
            }],
        }),
    );
    root.insert("FunctionName".into(), Value::String(function_name.to_owned()));
    for m in metrics {
        let value = serde_json::Number::from_f64(m.value).map_or(Value::Null, Value::Number);
        root.insert(m.name.into(), value);
    }
    Value::Object(root).to_string()
}

/// Where [`emit`] writes when not to standard output.
type Output = Box<dyn std::io::Write + Send>;
static OUTPUT: std::sync::Mutex<Option<Output>> = std::sync::Mutex::new(None);

/// Sends this process's EMF lines to `writer` instead of standard output.
/// In Lambda, standard output is the function's log, where CloudWatch reads
/// EMF; a tool that runs a handler in process (`replay`, the demo) keeps
/// them out of its own report this way.
pub fn send_to(writer: Output) {
    if let Ok(mut output) = OUTPUT.lock() {
        *output = Some(writer);
    }
}

/// Prints one EMF line for this invocation (to standard output, or where
/// [`send_to`] says).
pub fn emit(metrics: &[Metric]) {
    let line = emf_line(&function_name(), metrics, crate::timestamp::Timestamp::now().millis());
    if let Ok(mut output) = OUTPUT.lock()
        && let Some(writer) = output.as_mut()
    {
        // A metric line that cannot be written is lost with its file, as it
        // would be with a closed log; the tool's report does not depend on it.
        let _ = writeln!(writer, "{line}");
        return;
    }
    println!("{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_go_where_send_to_says() {
        struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Shared {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let written = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        send_to(Box::new(Shared(written.clone())));
        emit(&[Metric::count("records", 3)]);
        *OUTPUT.lock().unwrap() = None;
        let text = String::from_utf8(written.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("\"_aws\"") && text.contains("\"records\":3"), "{text}");
    }

    #[test]
    fn line_is_valid_emf() {
        let line = emf_line(
            "transformer-fn",
            &[
                Metric::count("records", 3),
                Metric::bytes("bytes_in", 120),
                Metric::millis("duration_ms", 1.5),
            ],
            1_700_000_000_000,
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000i64);
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], serde_json::json!([["FunctionName"]]));
        assert_eq!(
            directive["Metrics"][1],
            serde_json::json!({"Name": "bytes_in", "Unit": "Bytes"})
        );
        assert_eq!(v["FunctionName"], "transformer-fn");
        assert_eq!(v["records"], 3.0);
        assert_eq!(v["duration_ms"], 1.5);
        assert!(!line.contains('\n'));
    }
}
