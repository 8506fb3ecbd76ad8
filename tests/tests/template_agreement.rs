//! template.yaml agrees with the code: the partition keys Firehose uses are
//! the ones the transformer emits, the Glue table reads what lands, the
//! functions are configured only through variables they read, each function
//! may write only to its sink or re-ingestion target, and a full processor
//! buffer of producer events is answered without re-ingestion.

use std::collections::BTreeSet;

use chat_pipeline::event::EventType;
use chat_pipeline::output::PARTITION_KEYS;
use pipeline_tests::template::{Template, at, lambda_partition_keys, tag, untag};
use serde_norway::Value;
use transformer::synthetic::{Format, Source, event_json_bytes, transformation_event};

fn template() -> Template {
    Template::repository().unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    match untag(v) {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items.iter().flat_map(strings).collect(),
        _ => vec![],
    }
}

#[test]
fn prefix_partitions_are_exactly_the_keys_the_transformer_emits() {
    let settings = template().delivery_settings().unwrap();
    assert_eq!(lambda_partition_keys(&settings.prefix), PARTITION_KEYS);
    let hive: String = PARTITION_KEYS
        .iter()
        .map(|k| format!("{k}=!{{partitionKeyFromLambda:{k}}}/"))
        .collect();
    assert_eq!(settings.prefix, format!("events/{hive}"));
    assert!(settings.error_output_prefix.contains("!{firehose:error-output-type}"));
    assert!(
        lambda_partition_keys(&settings.error_output_prefix).is_empty(),
        "errors cannot use partition keys"
    );
    assert_eq!(settings.compression, "GZIP");
    assert_eq!(settings.processor_retries, 3);
    let dest = at(
        template().properties("DeliveryStream").unwrap(),
        &["ExtendedS3DestinationConfiguration"],
    )
    .unwrap()
    .clone();
    assert_eq!(
        at(&dest, &["DynamicPartitioningConfiguration", "Enabled"]),
        Some(&Value::Bool(true))
    );
    let size = at(&dest, &["BufferingHints", "SizeInMBs"])
        .and_then(Value::as_u64)
        .unwrap();
    assert!(size >= 64, "dynamic partitioning needs a buffer of at least 64 MB");
}

#[test]
fn glue_table_reads_the_partitions_and_schema_that_land() {
    let t = template();
    let table = at(t.properties("EventsTable").unwrap(), &["TableInput"]).unwrap();
    let keys: Vec<String> = at(table, &["PartitionKeys"])
        .and_then(Value::as_sequence)
        .unwrap()
        .iter()
        .map(|k| at(k, &["Name"]).and_then(Value::as_str).unwrap().to_owned())
        .collect();
    assert_eq!(keys, PARTITION_KEYS);
    let params = at(table, &["Parameters"]).unwrap();
    let enum_values = at(params, &["projection.event_type.values"])
        .and_then(Value::as_str)
        .unwrap();
    let names: Vec<&str> = EventType::ALL.iter().map(|t| t.output_name()).collect();
    assert_eq!(enum_values, names.join(","));
    let location = at(params, &["storage.location.template"])
        .and_then(Value::as_str)
        .unwrap();
    let expected: String = PARTITION_KEYS.iter().map(|k| format!("{k}=${{!{k}}}/")).collect();
    assert!(location.ends_with(&format!("/events/{expected}")), "{location}");
    // Data columns: the output record's fields, less the partition column.
    let columns: Vec<String> = at(table, &["StorageDescriptor", "Columns"])
        .and_then(Value::as_sequence)
        .unwrap()
        .iter()
        .map(|c| at(c, &["Name"]).and_then(Value::as_str).unwrap().to_owned())
        .collect();
    let t0 = chat_pipeline::timestamp::Timestamp::MIN;
    let sample = chat_pipeline::output::OutputRecord {
        event_id: "e",
        event_type: "join",
        user_id: 1,
        session_id: None,
        seq: None,
        occurred_at: t0,
        event_date: chat_pipeline::output::EventDate(t0),
        received_at: t0,
        source: None,
        schema_version: 1,
    };
    let mut line = Vec::new();
    sample.write_line(&mut line);
    let fields: Vec<String> = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&line)
        .unwrap()
        .keys()
        .filter(|k| !PARTITION_KEYS.contains(&k.as_str()))
        .cloned()
        .collect();
    let mut sorted_columns = columns.clone();
    sorted_columns.sort();
    let mut sorted_fields = fields;
    sorted_fields.sort();
    assert_eq!(sorted_columns, sorted_fields);
}

fn environment(t: &Template, function: &str) -> BTreeSet<String> {
    at(t.properties(function).unwrap(), &["Environment", "Variables"])
        .and_then(Value::as_mapping)
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn function_environments_use_only_variables_the_functions_read() {
    let t = template();
    for (function, known) in [
        ("ProducerFunction", producer::config::ENV_VARS.as_slice()),
        ("TransformerFunction", transformer::config::ENV_VARS.as_slice()),
    ] {
        for var in environment(&t, function) {
            assert!(
                known.contains(&var.as_str()),
                "{function} sets {var}, which the code does not read"
            );
        }
    }
    // The producer's sink needs its stream name.
    let producer = environment(&t, "ProducerFunction");
    for var in ["SINK", "STREAM_NAME", "DELIVERY_STREAM_NAME", "EVENTS_PER_INVOCATION"] {
        assert!(producer.contains(var), "ProducerFunction does not set {var}");
    }
}

/// Every IAM statement below `v`, through `!If` branches.
fn statements(v: &Value, out: &mut Vec<Value>) {
    if tag(v).as_deref() == Some("If") {
        if let Some(items) = untag(v).as_sequence() {
            for branch in items.iter().skip(1) {
                statements(branch, out);
            }
        }
        return;
    }
    match untag(v) {
        Value::Sequence(items) => items.iter().for_each(|i| statements(i, out)),
        Value::Mapping(m) if m.contains_key("Statement") => statements(&m["Statement"], out),
        Value::Mapping(m) if m.contains_key("Effect") => out.push(v.clone()),
        _ => {}
    }
}

/// A statement's resources as `TAG:value` (`GetAtt:EventStream.Arn`, `:*`).
fn resource_refs(statement: &Value) -> Vec<String> {
    let raw = untag(statement).get("Resource").cloned().unwrap_or(Value::Null);
    let items = match raw {
        Value::Sequence(items) => items,
        other => vec![other],
    };
    items
        .iter()
        .flat_map(|item| {
            let kind = tag(item).unwrap_or_default();
            strings(item).into_iter().map(move |s| format!("{kind}:{s}"))
        })
        .collect()
}

#[test]
fn each_function_may_write_only_to_its_sink_or_reingestion_target() {
    let t = template();
    let stream_name = at(t.properties("DeliveryStream").unwrap(), &["DeliveryStreamName"])
        .and_then(Value::as_str)
        .unwrap()
        .to_owned();
    let delivery_stream_sub = format!(
        "Sub:arn:${{AWS::Partition}}:firehose:${{AWS::Region}}:${{AWS::AccountId}}:deliverystream/{stream_name}"
    );
    let cases = [
        (
            "ProducerFunction",
            vec![
                ("kinesis:PutRecords", "GetAtt:EventStream.Arn"),
                ("kinesis:PutRecord", "GetAtt:EventStream.Arn"),
                ("firehose:PutRecordBatch", "GetAtt:DeliveryStream.Arn"),
                ("firehose:PutRecord", "GetAtt:DeliveryStream.Arn"),
            ],
        ),
        (
            "TransformerFunction",
            vec![
                ("kinesis:PutRecords", "GetAtt:EventStream.Arn"),
                ("firehose:PutRecordBatch", delivery_stream_sub.as_str()),
            ],
        ),
    ];
    for (function, allowed) in cases {
        let mut found = Vec::new();
        statements(at(t.properties(function).unwrap(), &["Policies"]).unwrap(), &mut found);
        assert!(!found.is_empty(), "{function} has no policy statements");
        let mut granted = BTreeSet::new();
        for statement in &found {
            assert_eq!(at(statement, &["Effect"]).and_then(Value::as_str), Some("Allow"));
            let resources = resource_refs(statement);
            assert!(
                !resources.iter().any(|r| r.ends_with('*')),
                "{function}: wildcard resource in {resources:?}"
            );
            for action in strings(at(statement, &["Action"]).unwrap()) {
                assert!(!action.contains('*'), "{function}: wildcard action {action}");
                for resource in &resources {
                    assert!(
                        allowed.contains(&(action.as_str(), resource.as_str())),
                        "{function} may {action} on {resource}, beyond its sink or re-ingestion target"
                    );
                    granted.insert(action.clone());
                }
            }
        }
        let needed: BTreeSet<String> = allowed.iter().map(|(a, _)| a.to_string()).collect();
        assert_eq!(granted, needed, "{function} lacks a permission it needs");
    }
}

#[test]
fn functions_are_built_with_cargo_lambda_for_arm64() {
    let t = template();
    let globals = at(&t.root, &["Globals", "Function"]).unwrap();
    assert_eq!(
        at(globals, &["Runtime"]).and_then(Value::as_str),
        Some("provided.al2023")
    );
    assert_eq!(strings(at(globals, &["Architectures"]).unwrap()), ["arm64"]);
    for (function, binary) in [("ProducerFunction", "producer"), ("TransformerFunction", "transformer")] {
        let r = t.resource(function).unwrap();
        assert_eq!(
            at(r, &["Metadata", "BuildMethod"]).and_then(Value::as_str),
            Some("rust-cargolambda")
        );
        assert_eq!(
            at(r, &["Metadata", "BuildProperties", "Binary"]).and_then(Value::as_str),
            Some(binary)
        );
    }
    let timeout = at(t.properties("TransformerFunction").unwrap(), &["Timeout"])
        .and_then(Value::as_u64)
        .unwrap();
    assert!(
        (60..300).contains(&timeout),
        "Firehose needs 60 s to under 5 min, found {timeout}"
    );
}

#[test]
fn the_processing_failed_alarm_watches_the_metric_the_transformer_emits() {
    let t = template();
    let alarm = t.properties("ProcessingFailedAlarm").unwrap();
    assert_eq!(
        at(alarm, &["Namespace"]).and_then(Value::as_str),
        Some(chat_pipeline::metrics::NAMESPACE)
    );
    let metric = at(alarm, &["MetricName"]).and_then(Value::as_str).unwrap();
    let emitted: Vec<&str> = transformer::handler::Summary::default()
        .metrics(0.0)
        .iter()
        .map(|m| m.name)
        .collect();
    assert!(emitted.contains(&metric), "{metric} is not among {emitted:?}");
}

#[tokio::test]
async fn a_full_processor_buffer_of_producer_events_is_answered_without_reingestion() {
    let buffer = (template().delivery_settings().unwrap().processor_buffer_mb * 1024.0 * 1024.0) as usize;
    for source in [Source::DirectPut, Source::KinesisStream] {
        let mut n = 100;
        let mut event = transformation_event(Format::Producer, source, n);
        while event_json_bytes(&event) < buffer {
            n += 100;
            event = transformation_event(Format::Producer, source, n);
        }
        let config = transformer::Config {
            reingest: false,
            ..transformer::Config::default()
        };
        let state = transformer::Transformer::new(config, transformer::reingest::AwsSinks::default());
        let (response, summary) = transformer::process(&state, event, None).await.unwrap();
        assert_eq!(summary.failed, 0, "{source:?}: a full buffer overflowed the response");
        assert_eq!(summary.ok, n);
        let size = serde_json::to_vec(&response).unwrap().len();
        assert!(size <= transformer::firehose::RESPONSE_BUDGET, "{source:?}: {size}");
    }
}
