//! template.yaml agrees with the code: the partition keys Firehose uses are
//! the ones the transformer emits, the Glue table reads what lands (types and
//! ranges included), the functions are configured only through variables
//! they read, each function may write only to its sink or re-ingestion
//! target, the alarm topic's key lets CloudWatch publish, and a full
//! processor buffer of the worst accepted input is answered without
//! re-ingestion. `make deploy-local` checks the deployed result.

use std::collections::BTreeSet;

use chat_pipeline::event::EventType;
use chat_pipeline::output::PARTITION_KEYS;
use harness::template::{Template, at, lambda_partition_keys, tag, untag};
use serde_norway::Value;
use testkit::synthetic::{Format, Source, event_json_bytes, transformation_event};

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
    // Built through the generated constructor, so a column added to the
    // schema needs no edit here.
    let plain = chat_pipeline::model::Columns::default();
    let sample = chat_pipeline::output::OutputRecord::new("e", EventType::ALL[0], 1, t0, t0, None, &plain);
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
    // The code calls only PutRecords and PutRecordBatch (shared/src/sink/).
    let cases = [
        (
            "ProducerFunction",
            at(t.properties("ProducerFunction").unwrap(), &["Policies"]).unwrap(),
        ),
        (
            "TransformerReingestPolicy",
            at(t.properties("TransformerReingestPolicy").unwrap(), &["PolicyDocument"]).unwrap(),
        ),
    ];
    let allowed = [
        ("kinesis:PutRecords", "GetAtt:EventStream.Arn"),
        ("firehose:PutRecordBatch", "GetAtt:DeliveryStream.Arn"),
    ];
    assert!(
        at(t.properties("TransformerFunction").unwrap(), &["Policies"]).is_none(),
        "the transformer's rights belong in TransformerReingestPolicy"
    );
    assert_eq!(
        at(t.properties("TransformerReingestPolicy").unwrap(), &["Roles"]).map(strings),
        Some(vec!["TransformerFunctionRole".to_owned()])
    );
    for (function, policies) in cases {
        let mut found = Vec::new();
        statements(policies, &mut found);
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
        for name in ["DeliveryStream", "EventStream"] {
            assert!(
                at(t.properties(name).unwrap(), &["DeliveryStreamName"]).is_none()
                    && at(t.properties(name).unwrap(), &["Name"]).is_none(),
                "{name} must keep its generated name, so that changing SourceType can replace it"
            );
        }
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

/// The Glue column type of `name`.
fn column_type(t: &Template, name: &str) -> String {
    at(
        t.properties("EventsTable").unwrap(),
        &["TableInput", "StorageDescriptor", "Columns"],
    )
    .and_then(Value::as_sequence)
    .unwrap()
    .iter()
    .find(|c| at(c, &["Name"]).and_then(Value::as_str) == Some(name))
    .and_then(|c| at(c, &["Type"]).and_then(Value::as_str))
    .unwrap_or_else(|| panic!("no column {name}"))
    .to_owned()
}

#[test]
fn integer_columns_hold_every_accepted_value() {
    let t = template();
    // Athena's bigint is signed 64-bit; the transformer must refuse what it
    // cannot hold, and accept all it can.
    for column in ["user_id", "seq"] {
        assert_eq!(column_type(&t, column), "bigint", "{column}");
    }
    assert_eq!(chat_pipeline::input::MAX_INTEGER, i64::MAX as u64);
    let event =
        |n: u128| format!(r#"{{"event_name":"JOIN","event_time":"2026-11-22T00:00:00Z","user":{n},"seq":{n}}}"#);
    let max = u128::from(chat_pipeline::input::MAX_INTEGER);
    let at_max = event(max);
    let accepted = chat_pipeline::input::parse_input_event(at_max.as_bytes()).unwrap();
    assert_eq!(u128::from(accepted.user_id), max);
    assert!(chat_pipeline::input::parse_input_event(event(max + 1).as_bytes()).is_err());
}

#[test]
fn timestamp_columns_are_read_with_the_format_the_transformer_writes() {
    let t = template();
    for column in ["occurred_at", "received_at"] {
        assert_eq!(column_type(&t, column), "timestamp", "{column}");
    }
    assert_eq!(column_type(&t, "event_date"), "date");
    let serde = at(
        t.properties("EventsTable").unwrap(),
        &["TableInput", "StorageDescriptor", "SerdeInfo"],
    )
    .unwrap();
    assert_eq!(
        at(serde, &["SerializationLibrary"]).and_then(Value::as_str),
        Some("org.apache.hive.hcatalog.data.JsonSerDe")
    );
    let format = at(serde, &["Parameters", "timestamp.formats"])
        .and_then(Value::as_str)
        .unwrap();
    assert_eq!(format, "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'");
    // Every time the transformer writes has exactly that shape.
    let pattern: String = format.replace('\'', "");
    for millis in [0, 1_795_305_600_000, chat_pipeline::timestamp::Timestamp::MAX.millis()] {
        let written = chat_pipeline::timestamp::Timestamp::from_millis(millis)
            .unwrap()
            .to_rfc3339();
        assert_eq!(written.len(), pattern.len(), "{written} vs {pattern}");
        for (w, p) in written.bytes().zip(pattern.bytes()) {
            if p.is_ascii_alphabetic() && p != b'T' && p != b'Z' {
                assert!(w.is_ascii_digit(), "{written} vs {pattern}");
            } else {
                assert_eq!(w, p, "{written} vs {pattern}");
            }
        }
    }
}

#[test]
fn arrival_date_projection_never_runs_out() {
    let t = template();
    let params = at(t.properties("EventsTable").unwrap(), &["TableInput", "Parameters"]).unwrap();
    let get = |k: &str| at(params, &[k]).and_then(Value::as_str).unwrap().to_owned();
    assert_eq!(get("projection.dt.type"), "date");
    assert_eq!(get("projection.dt.format"), "yyyy-MM-dd");
    assert_eq!(get("projection.dt.range"), "${LakeStartDate},NOW");
    assert_eq!(get("projection.dt.interval.unit"), "DAYS");
    let start = at(&t.root, &["Parameters", "LakeStartDate", "Default"])
        .and_then(Value::as_str)
        .unwrap();
    let today = chat_pipeline::timestamp::Timestamp::now().to_rfc3339();
    assert!(start <= &today[..10], "LakeStartDate {start} is in the future");
}

#[test]
fn the_alarm_topic_key_lets_cloudwatch_publish() {
    let t = template();
    let topic = t.properties("AlarmTopic").unwrap();
    let key_ref = untag(topic).get("KmsMasterKeyId").unwrap();
    assert_eq!(
        (tag(key_ref).as_deref(), untag(key_ref).as_str()),
        (Some("Ref"), Some("AlarmTopicKey")),
        "the AWS managed alias/aws/sns key cannot be used by CloudWatch"
    );
    let mut found = Vec::new();
    statements(
        at(t.properties("AlarmTopicKey").unwrap(), &["KeyPolicy"]).unwrap(),
        &mut found,
    );
    let cloudwatch = found
        .iter()
        .find(|s| at(s, &["Principal", "Service"]).and_then(Value::as_str) == Some("cloudwatch.amazonaws.com"))
        .expect("a statement for cloudwatch.amazonaws.com");
    let actions: BTreeSet<String> = strings(at(cloudwatch, &["Action"]).unwrap()).into_iter().collect();
    assert_eq!(
        actions,
        ["kms:Decrypt", "kms:GenerateDataKey*"].map(String::from).into()
    );
    assert!(at(cloudwatch, &["Condition", "StringEquals", "aws:SourceAccount"]).is_some());
}

#[test]
fn nothing_arriving_breaches_an_alarm() {
    let t = template();
    for alarm in [
        "StreamIteratorAgeAlarm",
        "NothingDeliveredAlarm",
        "DeliveryBelowProductionAlarm",
    ] {
        assert_eq!(
            at(t.properties(alarm).unwrap(), &["TreatMissingData"]).and_then(Value::as_str),
            Some("breaching"),
            "{alarm}"
        );
    }
}

/// template.yaml has two readers, this crate's (harness::template, for the
/// tests and the local Firehose) and chat_tools.cfn_template (for the query
/// engine, the curation and the emulator deployment): they read the same
/// values, short-form tags included.
#[test]
#[ignore = "needs .venv-query from `make setup`; `make test` runs it"]
fn both_readers_of_the_template_read_the_same_values() {
    let python = harness::host::repo().join(".venv-query/bin/python");
    assert!(python.exists(), "{} is missing: run `make setup`", python.display());
    let out = harness::host::python_module(&python, "cfn_template").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let python_reads: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(template().long_form(), python_reads);
}

/// A heartbeat alarm pages when its metric stops for its whole range: every
/// hour without a data point counts as breaching (`missing` paged only on
/// the move to INSUFFICIENT_DATA, late, and never on a stack whose first
/// run never came: issue 35), over exactly its range.
fn assert_heartbeat(alarm: &Value) {
    assert_eq!(
        at(alarm, &["TreatMissingData"]).and_then(Value::as_str),
        Some("breaching")
    );
    assert_eq!(at(alarm, &["DatapointsToAlarm"]), at(alarm, &["EvaluationPeriods"]));
    assert_eq!(at(alarm, &["InsufficientDataActions"]), None);
}

/// The curation workflow's alarms: "stopped" watches exactly the metric its
/// last state publishes (namespace, name, dimension), paging when it stops;
/// "failed" watches the state machine's own failures.
#[test]
fn the_curation_alarms_watch_what_the_workflow_does() {
    let t = template();
    let machine = t.properties("CurationStateMachine").unwrap();
    let definition = t.state_machine_definition("CurationStateMachine").unwrap();
    let publish = at(&definition, &["States", "PublishRun", "Parameters"]).unwrap();
    let metric = at(publish, &["MetricData"]).and_then(|m| m.get(0)).unwrap();
    let stopped = t.properties("CurationStoppedAlarm").unwrap();
    assert_eq!(at(stopped, &["Namespace"]), at(publish, &["Namespace"]));
    assert_eq!(at(stopped, &["MetricName"]), at(metric, &["MetricName"]));
    let dimension = at(metric, &["Dimensions"]).and_then(|d| d.get(0)).unwrap();
    let alarm_dimension = at(stopped, &["Dimensions"]).and_then(|d| d.get(0)).unwrap();
    assert_eq!(at(alarm_dimension, &["Name"]), at(dimension, &["Name"]));
    // ${StackName} in the definition is the stack name, as in the alarm.
    assert_eq!(at(dimension, &["Value"]).and_then(Value::as_str), Some("${StackName}"));
    let substituted = at(machine, &["DefinitionSubstitutions"])
        .and_then(|d| d.get("StackName"))
        .unwrap();
    assert_eq!(tag(substituted).as_deref(), Some("Ref"));
    assert_eq!(untag(substituted), &Value::String("AWS::StackName".into()));
    let alarm_value = alarm_dimension.get("Value").unwrap();
    assert_eq!(tag(alarm_value).as_deref(), Some("Ref"));
    assert_eq!(untag(alarm_value), &Value::String("AWS::StackName".into()));
    assert_heartbeat(stopped);
    // The daily run's own heartbeat, watched the same way.
    let maintenance = at(
        &definition,
        &["States", "PublishMaintenanceRun", "Parameters", "MetricData"],
    )
    .and_then(|m| m.get(0))
    .unwrap();
    let maintenance_alarm = t.properties("CurationMaintenanceStoppedAlarm").unwrap();
    assert_eq!(at(maintenance_alarm, &["MetricName"]), at(maintenance, &["MetricName"]));
    assert_heartbeat(maintenance_alarm);
    let failed = t.properties("CurationFailedAlarm").unwrap();
    assert_eq!(
        (at(failed, &["Namespace"]), at(failed, &["MetricName"])),
        (
            Some(&Value::String("AWS/States".into())),
            Some(&Value::String("ExecutionsFailed".into()))
        )
    );
    // Every failure path ends in the Fail state the failed alarm counts.
    let states = at(&definition, &["States"]).and_then(Value::as_mapping).unwrap();
    for (name, state) in states {
        for catch in at(state, &["Catch"]).and_then(Value::as_sequence).into_iter().flatten() {
            let next = at(catch, &["Next"]).and_then(Value::as_str).unwrap();
            assert!(
                [
                    "ReleaseLockAfterFailure",
                    "RunFailed",
                    "ReadLockHolder",
                    "SkipRun",
                    "TakeOverLock",
                    "MustWaitForLock",
                    // An earlier INSERT Athena no longer knows: it ended.
                    "CreateTable",
                    // An INSERT that may still run is stopped and waited
                    // for, then the run fails (ReleaseLockAfterFailure).
                    "StopInsert",
                    "WaitForStoppedInsert",
                    // Choices that end in ReleaseLockAfterFailure, or run
                    // the query again (VACUUM while Athena asks for it).
                    "IsTableBehind",
                    "MustVacuumAgain"
                ]
                .contains(&next),
                "{name:?} catches into {next}"
            );
        }
    }
}

/// MiniStack does not keep a state machine's logging configuration, so it is
/// held to the template here: errors, to the workflow's own log group.
#[test]
fn the_curation_logs_its_errors_to_its_log_group() {
    let t = template();
    let logging = at(t.properties("CurationStateMachine").unwrap(), &["Logging"]).unwrap();
    assert_eq!(at(logging, &["Level"]).and_then(Value::as_str), Some("ERROR"));
    let destination = at(logging, &["Destinations"]).and_then(|d| d.get(0)).unwrap();
    let arn = at(destination, &["CloudWatchLogsLogGroup"])
        .and_then(|g| g.get("LogGroupArn"))
        .unwrap();
    assert_eq!(tag(arn).as_deref(), Some("GetAtt"));
    assert!(format!("{:?}", untag(arn)).contains("CurationLogGroup"), "{arn:?}");
}

/// The smallest record the transformer accepts (55 bytes: the three required
/// fields, the shortest event name, the smallest epoch-milliseconds time it
/// takes for one), the worst case for the response's growth: its answer is
/// almost all fixed overhead.
const SMALLEST_VALID_RECORD: &[u8] = br#"{"user":0,"event_name":"join","event_time":100000000000}"#;

#[tokio::test]
async fn a_full_processor_buffer_of_the_smallest_valid_records_is_answered_without_reingestion() {
    assert!(chat_pipeline::input::parse_input_event(SMALLEST_VALID_RECORD).is_ok());
    let one_less = br#"{"user":0,"event_name":"join","event_time":99999999999}"#;
    assert!(
        chat_pipeline::input::parse_input_event(one_less).is_err(),
        "a shorter valid record exists: size the buffer for it"
    );
    let buffer = (template().delivery_settings().unwrap().processor_buffer_mb * 1024.0 * 1024.0) as usize;
    let n = buffer.div_ceil(SMALLEST_VALID_RECORD.len());
    for source in [Source::DirectPut, Source::KinesisStream] {
        let mut event = transformation_event(Format::Plain, source, n);
        for (i, r) in event.records.iter_mut().enumerate() {
            *r = testkit::synthetic::record(source, i, SMALLEST_VALID_RECORD);
            if let Some(m) = r.kinesis_record_metadata.as_mut() {
                // Kinesis's longest partition key, copied into the output line.
                m.partition_key = format!("{i:0>256}").into();
            }
        }
        assert!(event_json_bytes(&event) >= buffer);
        let size = answered_in_full(source, event).await;
        println!("{source:?}: {n} records, {buffer} B of input, response {size} B");
    }
}

/// Answers `event` with re-ingestion off; asserts every record was answered
/// `Ok` within the response budget, and returns the response's size.
async fn answered_in_full(source: Source, event: transformer::firehose::TransformationEvent<'_>) -> usize {
    let n = event.records.len();
    let config = transformer::Config {
        reingest: false,
        ..transformer::Config::default()
    };
    let state = transformer::Transformer::new(config, chat_pipeline::destination::AwsSinks::default());
    let (answers, summary) = transformer::process(&state, event, None).await.unwrap();
    assert_eq!(summary.failed, 0, "{source:?}: a full buffer overflowed the response");
    assert_eq!(summary.ok, n);
    let size = serde_json::to_vec(&answers.render()).unwrap().len();
    assert!(size <= transformer::firehose::RESPONSE_BUDGET, "{source:?}: {size}");
    size
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
        answered_in_full(source, event).await;
    }
}

/// The curation workflow's SQL with its substitutions applied, as Step
/// Functions runs it (the column lists are template.yaml's generated ones).
fn curation_query(t: &Template, state: &str) -> String {
    let machine = t.properties("CurationStateMachine").unwrap();
    let substitutions = at(machine, &["DefinitionSubstitutions"])
        .and_then(Value::as_mapping)
        .unwrap();
    let definition = t.state_machine_definition("CurationStateMachine").unwrap();
    // An Athena task's QueryString, or the `sql` of the Pass state that
    // writes a task's request (PrepareInsert).
    let parameters = at(&definition, &["States", state, "Parameters"]);
    let mut sql = parameters
        .and_then(|p| at(p, &["QueryString"]).or_else(|| at(p, &["sql"])))
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no QueryString or sql in state {state}"))
        .to_owned();
    for (key, value) in substitutions {
        if let (Some(key), Some(value)) = (key.as_str(), untag(value).as_str()) {
            sql = sql.replace(&format!("${{{key}}}"), value);
        }
    }
    sql
}

/// Names in a comma-separated list, split at the top level only (a struct's
/// `<a:string,b:string>` is one item), each item's first word.
fn list_names(list: &str) -> Vec<String> {
    let (mut depth, mut start, mut out) = (0i32, 0, Vec::new());
    let mut push = |item: &str| {
        out.push(item.split_whitespace().next().unwrap_or_default().to_owned());
    };
    for (i, c) in list.char_indices() {
        match c {
            '<' | '(' => depth += 1,
            '>' | ')' => depth -= 1,
            ',' if depth == 0 => {
                push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    push(&list[start..]);
    out
}

/// The curated table's CREATE TABLE and the INSERT that fills it name the
/// same columns in the same order, the schema's (an INSERT writes by
/// position: a column out of order would land in another's place). Both
/// come from `make generate`; this holds the result, in `make check`.
#[test]
fn the_curation_insert_writes_the_tables_columns_in_order() {
    let t = template();
    let create = curation_query(&t, "CreateTable");
    let open = create.find('(').unwrap();
    let close = create.find("PARTITIONED BY").unwrap();
    let table = list_names(create[open + 1..close].trim().trim_end_matches(')'));
    let insert = curation_query(&t, "PrepareInsert");
    let select = insert.split("SELECT").nth(1).unwrap();
    let written = list_names(select.split("FROM").next().unwrap());
    assert_eq!(written, table, "the INSERT's columns against CREATE TABLE's");
    assert_eq!(
        table,
        chat_pipeline::model::COLUMNS,
        "CREATE TABLE's columns against the schema's"
    );
    let check = curation_query(&t, "CheckTableColumns");
    let select = check.split("SELECT").nth(1).unwrap();
    assert_eq!(
        list_names(select.split("FROM").next().unwrap()),
        table,
        "CheckTableColumns selects every column the INSERT writes"
    );
}
