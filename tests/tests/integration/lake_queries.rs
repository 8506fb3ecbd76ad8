//! From the producer to a SQL answer, on the emulator: the producer writes to
//! Kinesis, the local Firehose stand-in runs the transformer and lands
//! partitioned GZIP objects in S3, the lake is copied to a directory, the
//! stack's curation workflow builds the curated Iceberg table from it (one
//! run failing and retried), and DuckDB answers through the stack's own
//! table definitions (`chat_tools.lake`, as `make curate` and `make query`).
//!
//! The emulator test needs moto_server and the query tool's virtualenv
//! (`make setup`), so it is `#[ignore]`d by default and `make test` runs it
//! (`-- --include-ignored`).

use std::collections::HashMap;
use std::path::Path;

use chat_pipeline::destination::DestinationKind;
use chat_pipeline::timestamp::Timestamp;
use harness::lake;
use harness::lake_sql::{self, Answer, CurationRun};
use harness::pipeline::LocalPipeline;
use harness::scenario;
use lambda_runtime::{Context, LambdaEvent};

/// Plain events of an existing Python producer: no event_id, no session,
/// times from 2023 (an event time the projection range would not cover; the
/// arrival day, dt, is today).
const PLAIN: [&[u8]; 3] = [
    br#"{"event_time":"2023-12-12T10:00:00.123456","event_name":"JOIN","user":42}"#,
    br#"{"event_time":"2023-12-12T10:00:05","event_name":"SEND_MESSAGE","user":42}"#,
    br#"{"event_time":"2023-12-12T10:01:00Z","event_name":"LEAVE","user":42}"#,
];

/// One producer event, from an hour ago, sent twice inside one batch.
fn twice(now: Timestamp) -> Vec<u8> {
    let hour_ago = Timestamp::from_millis(now.millis() - 3_600_000).unwrap();
    format!(
        r#"{{"event_id":"0b6f3f0e-7a55-4c2e-9a51-5f1e0c7d2a11","event_time":"{hour_ago}","event_name":"OPEN_CHAT","user":7,"session_id":"s-7","seq":1,"schema_version":1}}"#
    )
    .into_bytes()
}

fn query(lake: &Path, sql: &str) -> Answer {
    lake_sql::query(lake, sql).unwrap_or_else(|e| panic!("{e}"))
}

fn curate(lake: &Path, how: CurationRun) -> Result<String, String> {
    lake_sql::curate(lake, how).map_err(|e| e.to_string())
}

/// The rows a curation report says it inserted, per statement.
fn inserted(report: &str) -> i64 {
    report
        .lines()
        .filter_map(|l| l.split_once(" rows inserted"))
        .filter_map(|(before, _)| before.split_whitespace().last()?.parse::<i64>().ok())
        .sum()
}

fn day(t: Timestamp) -> String {
    t.to_rfc3339()[..10].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto_server, cargo-lambda and DuckDB from `make setup`; `make test` runs it"]
async fn every_delivered_event_is_answered_once_by_the_curated_table() {
    let pipeline = LocalPipeline::for_tests("e2e-sql").await;
    let names = &pipeline.names;
    let state = pipeline.producer(DestinationKind::Kinesis, 200);
    let mut firehose = pipeline.firehose_in_process();
    let s3 = pipeline.s3();
    let lake_dir = tempfile_dir("e2e-sql-lake");
    let now = Timestamp::now();
    let yesterday = Timestamp::from_millis(now.millis() - 86_400_000).unwrap();
    let tick = |minutes: i64| {
        scenario::scheduled_event(Timestamp::from_millis(now.millis() / 60_000 * 60_000 - minutes * 60_000).unwrap())
    };

    // 1. A tick that reached the stream yesterday (stamped so by the stand-in).
    firehose.stamp_arrivals_at(Some(yesterday));
    let old_tick = tick(24 * 60);
    let mut delivered: Vec<String> = scenario::expected_ids(&state, &old_tick);
    producer::handle(&state, LambdaEvent::new(old_tick, Context::default()))
        .await
        .unwrap();
    firehose.drain().await.unwrap();
    firehose.stamp_arrivals_at(None);

    // 2. Today's tick, delivered, then re-run as Lambda's async retry would:
    // the copies reach Firehose in a later batch and land in other objects.
    let today_tick = tick(1);
    delivered.extend(scenario::expected_ids(&state, &today_tick));
    for _ in 0..2 {
        let summary = producer::handle(&state, LambdaEvent::new(today_tick.clone(), Context::default()))
            .await
            .unwrap();
        assert_eq!(summary.delivered, 200);
        firehose.drain().await.unwrap();
    }

    // The first curation runs fail: one after its insert committed, before
    // its watermark; one after writing data files, before its commit. Each
    // retry must leave every event once.
    lake::download_all(&s3, &names.bucket, &lake_dir).await.unwrap();
    let failed = curate(&lake_dir, CurationRun::FailAfterInsert).unwrap_err();
    assert!(failed.contains("after the commit"), "{failed}");
    let retried = curate(&lake_dir, CurationRun::Regular).unwrap();
    assert_eq!(
        inserted(&retried),
        0,
        "the failed run's rows are in; the retry adds none: {retried}"
    );
    let per_id = query(
        &lake_dir,
        "SELECT count(*), count(DISTINCT event_id) FROM chat_events_curated",
    );
    assert_eq!(
        per_id.rows[0],
        [serde_json::json!(400), serde_json::json!(400)],
        "yesterday's and today's ticks, once each"
    );

    // 3. One event twice in one batch, and old plain events; then a run that
    // fails before its commit, retried, and the daily maintenance run (the
    // plain events' 2023 times are older than the hourly runs look).
    let mut raw: Vec<(&str, Vec<u8>)> = vec![("twice", twice(now)), ("twice", twice(now))];
    raw.extend(PLAIN.iter().map(|d| ("plain", d.to_vec())));
    scenario::put_raw(&pipeline.config, &names.stream, &raw).await.unwrap();
    let stats = firehose.drain().await.unwrap();
    assert_eq!((stats.ok, stats.dropped), (4, 1), "{stats:?}");
    delivered.push("0b6f3f0e-7a55-4c2e-9a51-5f1e0c7d2a11".to_owned());
    let objects = lake::download_all(&s3, &names.bucket, &lake_dir).await.unwrap();
    assert!(objects > 10, "{objects} objects");
    let failed = curate(&lake_dir, CurationRun::FailBeforeCommit).unwrap_err();
    assert!(failed.contains("before the commit"), "{failed}");
    let retried = curate(&lake_dir, CurationRun::Regular).unwrap();
    assert_eq!(inserted(&retried), 1, "the twice-sent event: {retried}");
    let maintenance = curate(&lake_dir, CurationRun::Maintenance).unwrap();
    assert_eq!(
        inserted(&maintenance),
        PLAIN.len() as i64,
        "the plain events: {maintenance}"
    );
    let again = curate(&lake_dir, CurationRun::Maintenance).unwrap();
    assert_eq!(inserted(&again), 0, "a second run changes nothing: {again}");

    // Every delivered event exactly once in the curated table; the raw table
    // holds the retry's copies, so curation is what removed them.
    let per_id = query(
        &lake_dir,
        "SELECT event_id, count(*) AS n FROM chat_events_curated GROUP BY event_id",
    );
    let counts: HashMap<String, i64> = per_id
        .rows
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_owned(), r[1].as_i64().unwrap()))
        .collect();
    for id in &delivered {
        assert_eq!(counts.get(id), Some(&1), "event {id}");
    }
    assert_eq!(
        counts.len(),
        delivered.len() + PLAIN.len(),
        "only the delivered and the plain events"
    );
    let copies = query(&lake_dir, "SELECT count(*) - count(DISTINCT event_id) FROM chat_events");
    assert_eq!(
        copies.count(),
        Some(200),
        "the re-run tick's copies are in the raw table"
    );

    // Plain events with 2023 event times are accepted, so they are returned.
    let plain = query(
        &lake_dir,
        "SELECT count(*) FROM chat_events_curated WHERE occurred_at < TIMESTAMP '2024-01-01 00:00:00' AND session_id IS NULL",
    );
    assert_eq!(plain.count(), Some(PLAIN.len() as i64));

    // Kinesis lineage on every row of a Kinesis source.
    let lineage = query(
        &lake_dir,
        "SELECT count(*) FILTER (WHERE source.shard_id IS NULL OR source.sequence_number IS NULL OR source.partition_key IS NULL), count(*) FROM chat_events_curated",
    );
    assert_eq!(lineage.rows[0][0].as_i64(), Some(0), "rows without lineage");
    assert_eq!(lineage.rows[0][1].as_i64(), Some(counts.len() as i64));

    // A one-day query of the raw table opens only that day's objects; a
    // query of the curated table over the plain events' event time opens
    // only that event day's files.
    let yesterday_dir_files = count_files(&lake_dir.join("events"), &format!("dt={}", day(yesterday)));
    let all_files = count_files(&lake_dir.join("events"), "dt=");
    let one_day = query(
        &lake_dir,
        &format!("SELECT count(*) FROM chat_events WHERE dt = '{}'", day(yesterday)),
    );
    assert_eq!(one_day.count(), Some(200));
    assert_eq!(one_day.files_read, yesterday_dir_files as u64);
    assert!(yesterday_dir_files < all_files, "{yesterday_dir_files} of {all_files}");
    let curated_files = count_files(&lake_dir.join("curated/chat_events_curated/data"), ".parquet");
    let old_day = query(
        &lake_dir,
        "SELECT count(*) FROM chat_events_curated WHERE occurred_at >= TIMESTAMP '2023-12-12 00:00:00' AND occurred_at < TIMESTAMP '2023-12-13 00:00:00'",
    );
    assert_eq!(old_day.count(), Some(PLAIN.len() as i64));
    assert_eq!(old_day.files_read, 1, "one event day, compacted into one file");
    assert!(curated_files > 1, "{curated_files} curated files");
    let _ = std::fs::remove_dir_all(&lake_dir);
}

#[test]
#[ignore = "needs DuckDB from `make setup` (.venv-query); `make test` runs it"]
fn objects_outside_the_projection_are_not_returned() {
    // Athena returns nothing for a partition its projection does not
    // enumerate; neither does the local view. One real line, copied under
    // partitions inside and outside the template's projection.
    let lake_dir = tempfile_dir("projection-lake");
    // 2026-11-22T10:00:00.000Z.
    let line = testkit::synthetic::output_line(Timestamp::from_millis(1_795_341_600_000).unwrap());
    let today = day(Timestamp::now());
    let inside = [
        format!("event_type=join/dt={today}"),
        "event_type=leave/dt=2026-01-01".to_owned(),
    ];
    let outside = [
        "event_type=join/dt=2025-12-31".to_owned(), // before LakeStartDate
        "event_type=join/dt=2999-01-01".to_owned(), // after NOW
        format!("event_type=dance/dt={today}"),     // not in the enum
        "event_type=join/dt=2026-1-5".to_owned(),   // not in the format
    ];
    for dir in inside.iter().chain(&outside) {
        let path = lake_dir.join("events").join(dir).join("object.gz");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &line).unwrap();
        std::fs::write(path, gz.finish().unwrap()).unwrap();
    }
    let answer = query(&lake_dir, "SELECT dt FROM chat_events ORDER BY dt");
    let dts: Vec<&str> = answer.rows.iter().map(|r| r[0].as_str().unwrap()).collect();
    assert_eq!(dts, ["2026-01-01", today.as_str()]);
    let _ = std::fs::remove_dir_all(&lake_dir);
}

pub(crate) fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Files under `root` whose path contains `part`.
fn count_files(root: &Path, part: &str) -> usize {
    let mut n = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().contains(part) {
                n += 1;
            }
        }
    }
    n
}
