//! The transformer's output against `schema/output-v1.schema.json`, the one
//! machine-readable description of output schema v1 that every consumer's
//! columns are checked against (`tools/check_sql.py` checks the consumers:
//! Glue, DuckDB, Redshift, Snowflake). Here: every line the real transformer
//! writes, for every sample event and for synthetic batches of both formats
//! and sources, has exactly the schema's properties, in its order, with its
//! types, formats and ranges; and the lake's partitions are the schema's.

use base64_simd::STANDARD;
use chat_pipeline::output::PARTITION_KEYS;
use chat_pipeline::timestamp::Timestamp;
use serde_json::{Map, Value};
use transformer::firehose::{RecordResult, TransformationEvent};
use transformer::synthetic::{Format, Source, transformation_event};
use xtask::harness::repo;

fn schema() -> Value {
    let text = std::fs::read_to_string(repo().join("schema/output-v1.schema.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The schema's violations by `value`, as readable lines (empty: valid).
/// Covers the keywords the schema uses: type (with null), enum, const,
/// minimum/maximum, minLength/maxLength, format date-time/date, required,
/// additionalProperties false, nested properties.
fn violations(schema: &Value, value: &Value, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let actual = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    if !types.contains(&actual) {
        return vec![format!("{path}: {actual} where the schema allows {types:?}")];
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        out.push(format!("{path}: {value} is not one of {allowed:?}"));
    }
    if let Some(c) = schema.get("const")
        && c != value
    {
        out.push(format!("{path}: {value} != const {c}"));
    }
    if let Some(n) = value.as_u64() {
        if schema["maximum"].as_u64().is_some_and(|max| n > max) {
            out.push(format!("{path}: {n} over the maximum"));
        }
    } else if value
        .as_i64()
        .is_some_and(|n| n < schema["minimum"].as_i64().unwrap_or(i64::MIN))
    {
        out.push(format!("{path}: {value} under the minimum"));
    }
    if let Some(s) = value.as_str() {
        let chars = s.chars().count() as u64;
        if schema["maxLength"].as_u64().is_some_and(|m| chars > m)
            || schema["minLength"].as_u64().is_some_and(|m| chars < m)
        {
            out.push(format!("{path}: length {chars} outside the schema's"));
        }
        match schema["format"].as_str() {
            // Always milliseconds and Z: what the Glue SerDe's
            // timestamp.formats reads (template_agreement checks that side).
            Some("date-time") => {
                let shaped = s.len() == 24 && &s[10..11] == "T" && &s[19..20] == "." && s.ends_with('Z');
                if !shaped || Timestamp::parse_iso8601(s).is_err() {
                    out.push(format!("{path}: {s:?} is not yyyy-MM-ddTHH:mm:ss.SSSZ"));
                }
            }
            Some("date") if s.len() != 10 || Timestamp::parse_iso8601(&format!("{s}T00:00:00Z")).is_err() => {
                out.push(format!("{path}: {s:?} is not yyyy-MM-dd"));
            }
            _ => {}
        }
    }
    if let (Value::Object(object), Some(properties)) = (value, schema["properties"].as_object()) {
        for name in schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(name) {
                out.push(format!("{path}.{name}: required, missing"));
            }
        }
        for (name, v) in object {
            match properties.get(name) {
                Some(p) => out.extend(violations(p, v, &format!("{path}.{name}"))),
                None => out.push(format!("{path}.{name}: not in the schema")),
            }
        }
    }
    out
}

/// Top-level keys of a JSON object line, in the order they are written.
fn key_order(line: &str) -> Vec<String> {
    let map: Map<String, Value> = serde_json::from_str(line).unwrap();
    let mut keys: Vec<(usize, String)> = map
        .keys()
        .map(|k| (line.find(&format!("\"{k}\":")).unwrap(), k.clone()))
        .collect();
    keys.sort();
    keys.into_iter().map(|(_, k)| k).collect()
}

/// Every `Ok` line the transformer writes for `event`.
async fn output_lines(event: TransformationEvent<'_>) -> Vec<String> {
    let config = transformer::Config {
        reingest: false,
        ..transformer::Config::default()
    };
    let state = transformer::Transformer::new(config, chat_pipeline::destination::AwsSinks::default());
    let (answers, _) = transformer::process(&state, event, None).await.unwrap();
    answers
        .to_response()
        .records
        .iter()
        .filter(|r| r.result == RecordResult::Ok)
        .map(|r| String::from_utf8(STANDARD.decode_to_vec(&r.data).unwrap()).unwrap())
        .collect()
}

fn sample_events() -> Vec<(String, TransformationEvent<'static>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(repo().join("events/transformer")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".json") && !name.ends_with(".expected.json") {
            let bytes = std::fs::read(&path).unwrap();
            let event: TransformationEvent<'_> = serde_json::from_slice(&bytes).unwrap();
            out.push((name, event.into_owned()));
        }
    }
    for format in [Format::Producer, Format::Plain] {
        for source in [Source::DirectPut, Source::KinesisStream] {
            out.push((
                format!("synthetic {format:?} {source:?}"),
                transformation_event(format, source, 200),
            ));
        }
    }
    out
}

#[tokio::test]
async fn every_line_the_transformer_writes_matches_the_schema_in_its_order() {
    let schema = schema();
    let mut written_order: Vec<String> = schema["properties"].as_object().unwrap().keys().cloned().collect();
    // serde_json's Map keeps keys sorted unless preserve_order is on; read the
    // written order from the schema text instead.
    let text = std::fs::read_to_string(repo().join("schema/output-v1.schema.json")).unwrap();
    let properties_at = text.find("\"properties\"").unwrap();
    written_order.sort_by_key(|k| text[properties_at..].find(&format!("\n    \"{k}\": {{")).unwrap());

    let mut lines = 0;
    for (name, event) in sample_events() {
        for line in output_lines(event).await {
            let line = line.trim_end_matches('\n');
            let value: Value = serde_json::from_str(line).unwrap();
            let problems = violations(&schema, &value, "$");
            assert!(problems.is_empty(), "{name}: {line}\n{}", problems.join("\n"));
            assert_eq!(key_order(line), written_order, "{name}: keys out of the schema's order");
            lines += 1;
        }
    }
    assert!(lines > 800, "only {lines} lines checked");
}

#[test]
fn the_validator_refuses_what_the_schema_forbids() {
    // The checks above can fail: a line with each kind of defect is refused.
    let schema = schema();
    let good = r#"{"event_id":"e","event_type":"join","user_id":1,"session_id":null,"seq":null,"occurred_at":"2026-11-22T10:00:00.000Z","event_date":"2026-11-22","received_at":"2026-11-22T10:00:01.000Z","source":null,"schema_version":1}"#;
    assert_eq!(
        violations(&schema, &serde_json::from_str(good).unwrap(), "$"),
        Vec::<String>::new()
    );
    for (from, to) in [
        (r#""event_type":"join""#, r#""event_type":"JOIN""#),
        (r#""user_id":1"#, r#""user_id":"1""#),
        (r#""user_id":1"#, r#""user_id":9223372036854775808"#),
        (
            r#""occurred_at":"2026-11-22T10:00:00.000Z""#,
            r#""occurred_at":"2026-11-22T10:00:00Z""#,
        ),
        (r#""event_date":"2026-11-22""#, r#""event_date":"2026-13-22""#),
        (r#""schema_version":1"#, r#""schema_version":2"#),
        (r#""source":null"#, r#""source":{"shard_id":"s"}"#),
        (r#""seq":null"#, r#""seq":null,"extra":1"#),
    ] {
        let bad: Value = serde_json::from_str(&good.replace(from, to)).unwrap();
        assert!(!violations(&schema, &bad, "$").is_empty(), "{to} was accepted");
    }
}

#[test]
fn the_lake_partitions_are_the_schemas() {
    let schema = schema();
    let names: Vec<&str> = schema["x-lake-partitions"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = PARTITION_KEYS.to_vec();
    expected.sort();
    let mut names = names;
    names.sort();
    assert_eq!(names, expected);
}
