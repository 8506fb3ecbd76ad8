//! The whole pipeline on the emulator: producer -> Kinesis -> (local
//! Firehose: transformer) -> partitioned GZIP NDJSON in S3, plus the Direct
//! PUT path as far as moto goes, and the functions run through the real
//! runtime path under `cargo lambda watch`.
//!
//! They need moto_server and cargo-lambda (`make setup`), so they are
//! `#[ignore]`d by default: `cargo test` lists them as ignored, and `make
//! test` runs them (`-- --include-ignored`), failing with instructions when a
//! tool is missing.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::lake_queries::tempfile_dir;
use base64_simd::STANDARD;
use chat_pipeline::destination::DestinationKind;
use chat_pipeline::timestamp::Timestamp;
use harness::lake;
use harness::lambda_watch::{LambdaWatch, WatchInvoker};
use harness::local_firehose::InProcess;
use harness::pipeline::LocalPipeline;
use harness::scenario;
use lambda_runtime::{Context, LambdaEvent};

fn ticks() -> [Timestamp; 2] {
    let t = Timestamp::parse_iso8601("2026-11-21T12:00:00Z").unwrap();
    [t, Timestamp::from_millis(t.millis() + 60_000).unwrap()]
}

/// Per event_id, how many times it landed under `events/`, and each line's
/// partition agreement.
async fn landed(s3: &aws_sdk_s3::Client, bucket: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for object in lake::objects(s3, bucket, "events/").await.unwrap() {
        assert!(object.key.ends_with(".gz"), "{}", object.key);
        let parts = scenario::partitions_of(&object.key);
        for line in lake::lines(&object) {
            let record: serde_json::Value = serde_json::from_slice(line).unwrap();
            // Partitioned by the day the record reached the stream.
            let received = record["received_at"].as_str().unwrap();
            let expected: BTreeMap<String, String> = [
                ("event_type", record["event_type"].as_str().unwrap()),
                ("dt", &received[0..10]),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
            assert_eq!(parts, expected, "{} holds a record of another partition", object.key);
            *counts
                .entry(record["event_id"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto_server, cargo-lambda and DuckDB from `make setup`; `make test` runs it"]
async fn every_delivered_event_lands_once_partitioned_and_malformed_records_reach_the_error_prefix() {
    let pipeline = LocalPipeline::for_tests("e2e-kinesis").await;
    let (config, names) = (&pipeline.config, &pipeline.names);

    let state = pipeline.producer(DestinationKind::Kinesis, 300);
    let mut expected: Vec<String> = Vec::new();
    let (mut delivered, mut packed_records) = (0, 0);
    for tick in ticks() {
        let event = scenario::scheduled_event(tick);
        expected.extend(scenario::expected_ids(&state, &event));
        let summary = producer::handle(&state, LambdaEvent::new(event, Context::default()))
            .await
            .unwrap();
        assert_eq!(summary.generated, summary.delivered);
        assert_eq!(summary.records, summary.delivered_records);
        delivered += summary.delivered;
        packed_records += summary.records;
    }
    assert_eq!(delivered, 600);
    // The producer packs (its default): many events to a record.
    assert!(packed_records < 600 / 10, "{packed_records} records for 600 events");
    let malformed = scenario::malformed_records();
    scenario::put_raw(config, &names.stream, &malformed).await.unwrap();

    let invoker = InProcess {
        state: pipeline.transformer(),
    };
    let mut firehose = pipeline.firehose(invoker);
    let told = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&told);
    firehose.on_progress(move |p| sink.lock().unwrap().push(p));
    let stats = firehose.drain().await.unwrap();
    // The stream holds the packed records and the three malformed ones;
    // the stand-in splits them back into 603 before the transformer.
    assert_eq!(stats.records_read, packed_records + 3);
    assert_eq!(stats.records_deaggregated, 603);
    assert_eq!(stats.ok, 600);
    assert_eq!(stats.processing_failed, 3);
    // The demo's progress lines come from these: the read, then each batch.
    let told = told.lock().unwrap().clone();
    let (reading, told): (Vec<_>, Vec<_>) = told.into_iter().partition(|p| p.reading);
    assert!(reading.windows(2).all(|w| w[0].read < w[1].read), "{reading:?}");
    assert!(
        reading.last().is_some_and(|p| p.read == packed_records + 3),
        "{reading:?}"
    );
    assert_eq!(told.first().map(|p| (p.read, p.delivered)), Some((603, 0)));
    assert_eq!(
        told.last().map(|p| (p.read, p.delivered, p.invocations)),
        Some((603, 603, stats.invocations))
    );
    assert!(told.windows(2).all(|w| w[0].delivered < w[1].delivered), "{told:?}");
    assert_eq!(
        firehose.drain().await.unwrap().records_read,
        0,
        "a second drain reads nothing new"
    );

    let s3 = pipeline.s3();
    let counts = landed(&s3, &names.bucket).await;
    assert_eq!(counts.len(), expected.len());
    for id in &expected {
        assert_eq!(counts.get(id), Some(&1), "event {id} landed {:?} times", counts.get(id));
    }

    let errors = lake::objects(&s3, &names.bucket, "errors/processing-failed/")
        .await
        .unwrap();
    // The demo's read-back fetches each object once, copying and reading it.
    let copy = tempfile_dir("e2e-copy");
    let mut reported = Vec::new();
    let all = lake::download_and_read(&s3, &names.bucket, &copy, |done, of| reported.push((done, of)))
        .await
        .unwrap();
    let events = lake::objects(&s3, &names.bucket, "events/").await.unwrap();
    let read_back: Vec<_> = all.iter().filter(|o| o.key.starts_with("events/")).cloned().collect();
    assert_eq!(
        read_back.iter().map(|o| (&o.key, &o.bytes)).collect::<Vec<_>>(),
        events.iter().map(|o| (&o.key, &o.bytes)).collect::<Vec<_>>()
    );
    assert_eq!(reported.last(), Some(&(all.len(), all.len())));
    for object in &all {
        assert!(copy.join(&object.key).is_file(), "{} not copied", object.key);
    }
    let _ = std::fs::remove_dir_all(&copy);
    let mut raw: Vec<Vec<u8>> = Vec::new();
    for object in &errors {
        for line in lake::lines(object) {
            let record: serde_json::Value = serde_json::from_slice(line).unwrap();
            assert_eq!(record["errorCode"], "Lambda.ProcessingFailedStatus");
            for field in [
                "attemptsMade",
                "arrivalTimestamp",
                "errorMessage",
                "attemptEndingTimestamp",
                "lambdaArn",
            ] {
                assert!(!record[field].is_null(), "error record lacks {field}");
            }
            raw.push(STANDARD.decode_to_vec(record["rawData"].as_str().unwrap()).unwrap());
        }
    }
    let mut originals: Vec<Vec<u8>> = malformed.into_iter().map(|(_, d)| d).collect();
    originals.sort();
    raw.sort();
    assert_eq!(raw, originals, "malformed records keep their original bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto_server, cargo-lambda and DuckDB from `make setup`; `make test` runs it"]
async fn rerunning_a_tick_regenerates_identical_event_ids() {
    let pipeline = LocalPipeline::for_tests("e2e-rerun").await;
    let names = &pipeline.names;
    let state = pipeline.producer(DestinationKind::Kinesis, 150);
    let event = scenario::scheduled_event(ticks()[0]);
    let mut records = 0;
    for attempt in ["first", "retried"] {
        let mut ctx = Context::default();
        ctx.request_id = format!("{attempt}-request");
        let summary = producer::handle(&state, LambdaEvent::new(event.clone(), ctx))
            .await
            .unwrap();
        assert_eq!(summary.delivered, 150);
        records += summary.records;
    }
    // Read the stream: both ticks' packed records, 300 events once split,
    // the second 150 repeating the first's ids.
    let invoker = InProcess {
        state: pipeline.transformer(),
    };
    let mut firehose = pipeline.firehose(invoker);
    let stats = firehose.drain().await.unwrap();
    assert_eq!((stats.records_read, stats.records_deaggregated), (records, 300));
    // Both copies reach the transformer in one batch: the retry's copies are
    // dropped as duplicates, and every event lands exactly once.
    assert_eq!((stats.ok, stats.dropped), (150, 150));
    let counts = landed(&pipeline.s3(), &names.bucket).await;
    let expected = scenario::expected_ids(&state, &event);
    assert_eq!(counts.len(), 150);
    assert!(expected.iter().all(|id| counts.get(id) == Some(&1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto_server, cargo-lambda and DuckDB from `make setup`; `make test` runs it"]
async fn direct_put_delivers_every_event_into_the_delivery_streams_destination() {
    let pipeline = LocalPipeline::for_tests("e2e-direct").await;
    let names = &pipeline.names;
    let state = pipeline.producer(DestinationKind::Firehose, 1_200);
    let event = scenario::scheduled_event(ticks()[0]);
    let summary = producer::handle(&state, LambdaEvent::new(event.clone(), Context::default()))
        .await
        .unwrap();
    assert_eq!(summary.delivered, 1_200);
    assert_eq!(summary.sink, format!("firehose:{}", names.direct_put_stream));
    // moto writes Direct PUT records concatenated, without a delimiter.
    let mut counts: HashMap<String, usize> = HashMap::new();
    for object in lake::objects(&pipeline.s3(), &names.bucket, "direct-put/")
        .await
        .unwrap()
    {
        for value in serde_json::Deserializer::from_slice(&object.bytes).into_iter::<serde_json::Value>() {
            let value = value.unwrap();
            *counts
                .entry(value["event_id"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    let expected = scenario::expected_ids(&state, &event);
    assert_eq!(counts.len(), expected.len());
    assert!(expected.iter().all(|id| counts.get(id) == Some(&1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto_server, cargo-lambda and DuckDB from `make setup`; `make test` runs it"]
async fn both_functions_run_through_the_real_runtime_under_cargo_lambda_watch() {
    let pipeline = LocalPipeline::for_tests("e2e-watch").await;
    let names = &pipeline.names;
    let mut env = pipeline.function_env();
    env.extend(
        [
            ("SINK", "kinesis"),
            ("STREAM_NAME", names.stream.as_str()),
            ("EVENTS_PER_INVOCATION", "200"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let log = std::env::temp_dir().join("pipeline-tests-cargo-lambda-watch.log");
    let watch = LambdaWatch::start(&env, &log).await.unwrap();
    let event = scenario::scheduled_event(ticks()[1]);
    let body = watch
        .invoke("producer", serde_json::to_vec(&event).unwrap())
        .await
        .unwrap_or_else(|e| panic!("{e}\n(log: {})", log.display()));
    let summary: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(summary["delivered"], 200, "{summary}");
    assert_eq!(summary["sink"], format!("kinesis:{}", names.stream));

    let mut firehose = pipeline.firehose(WatchInvoker(&watch));
    let stats = firehose.drain().await.unwrap();
    // The function ran with the template's environment: it packed.
    assert_eq!(summary["records"], stats.records_read, "{summary} {stats:?}");
    assert!(stats.records_read < 200, "{stats:?}");
    assert_eq!((stats.records_deaggregated, stats.ok), (200, 200), "{stats:?}");
    let counts = landed(&pipeline.s3(), &names.bucket).await;
    assert_eq!(counts.len(), 200);
    assert!(counts.values().all(|&n| n == 1));
}

/// `make demo KEEP=1` adds to the lake: a rerun within its ticks' minutes
/// regenerates events already there, and the demo says how many, which is
/// the raw table's count of retry copies. And a run of more than a handful
/// of objects lists eight of their paths, not all of them.
#[test]
#[ignore = "needs moto_server, cargo-lambda and DuckDB from `make setup`; `make test` runs it"]
fn a_kept_lake_says_how_many_of_the_runs_events_it_already_held() {
    let demo = harness::binaries::build_from("harness", "demo", false).unwrap();
    let lake_dir = tempfile_dir("demo-keep");
    let run = |keep: bool| {
        let mut cmd = std::process::Command::new(&demo);
        harness::binaries::without_the_test_runs_cargo_env(&mut cmd);
        cmd.args(["--ticks", "2", "--events", "2000", "--lake"]).arg(&lake_dir);
        if keep {
            cmd.arg("--keep");
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let fresh = run(false);
    assert!(!fresh.contains("(--keep)"), "{fresh}");
    // Kept on an empty lake: nothing was there before.
    let _ = std::fs::remove_dir_all(&lake_dir);
    let first = run(true);
    assert!(
        first.contains(&format!(
            "none of this run's events were in {} before",
            lake_dir.display()
        )),
        "{first}"
    );
    let shown = format!("  {}/", lake_dir.display());
    let listed = first.lines().filter(|l| l.starts_with(&shown)).count();
    let copied: usize = first
        .split_once("copied to ")
        .and_then(|(_, rest)| {
            rest.split_once(" (")?
                .1
                .split_once(" objects")
                .map(|(n, _)| n.parse().ok())
        })
        .flatten()
        .unwrap_or_else(|| panic!("no count of objects copied:\n{first}"));
    assert!(copied > 8, "{first}");
    assert_eq!(listed, 8, "{first}");
    assert!(
        first.contains(&format!("  ... and {} more (ls -R {})", copied - 8, lake_dir.display())),
        "{first}"
    );
    let second = run(true);
    let said: usize = second
        .lines()
        .find_map(|l| l.trim().split_once(" of this run's events were already in "))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of events already held:\n{second}"));
    // Two ticks of the last two minutes, run seconds apart: at least one
    // minute, 2,000 events, is in both runs.
    assert!(said >= 2_000, "{second}");
    let objects = lake::local_objects(&lake_dir, "events/").unwrap();
    let lines = objects.iter().flat_map(lake::lines).count();
    let ids: std::collections::HashSet<&str> = objects
        .iter()
        .flat_map(lake::lines)
        .filter_map(lake::event_id)
        .collect();
    assert_eq!(lines - ids.len(), said, "lines {lines}, distinct events {}", ids.len());
    let _ = std::fs::remove_dir_all(&lake_dir);
}
