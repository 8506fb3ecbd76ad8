//! The transformer's output against `schema/output-v1.schema.json`, the one
//! machine-readable description of output schema v1 that every consumer's
//! columns are checked against (`chat_tools.checks.sql` checks the consumers:
//! Glue, DuckDB, Redshift, Snowflake). Here: every line the real transformer
//! writes, for every sample event and for synthetic batches of both formats
//! and sources, has exactly the schema's properties, in its order, with its
//! types, formats and ranges; and the lake's partitions are the schema's.

use base64_simd::STANDARD;
use chat_pipeline::output::PARTITION_KEYS;
use harness::host::repo;
use serde_json::{Map, Value};
use testkit::synthetic::{Format, Source, transformation_event};
use transformer::firehose::{RecordResult, TransformationEvent};

fn schema() -> Value {
    let text = std::fs::read_to_string(repo().join("schema/output-v1.schema.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The schema's violations by `value`, as readable lines (empty: valid):
/// the `jsonschema` crate, draft 2020-12 as the schema declares, with the
/// formats (`date-time`, `date`) checked, not just annotated.
fn violations(schema: &Value, value: &Value) -> Vec<String> {
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|e| panic!("schema/output-v1.schema.json is not a valid schema: {e}"));
    validator
        .iter_errors(value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
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
            let problems = violations(&schema, &value);
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
    // 2026-11-22T10:00:00.000Z, received a second later.
    let occurred = chat_pipeline::timestamp::Timestamp::from_millis(1_795_341_600_000).unwrap();
    let good = String::from_utf8(testkit::synthetic::output_line(occurred)).unwrap();
    let good = good.trim_end();
    assert_eq!(
        violations(&schema, &serde_json::from_str(good).unwrap()),
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
        assert!(!violations(&schema, &bad).is_empty(), "{to} was accepted");
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
