//! The transformer's real binary, run as Lambda runs it (the Runtime API
//! stand-in, the same environment variables), answers the sample events
//! exactly as the checked-in expected responses say (also with a leading
//! byte-order mark), reports a non-Firehose
//! payload as an invocation error, and refuses a bad configuration at start.

use std::path::PathBuf;
use std::time::Duration;

use harness::runtime_api::{FunctionProcess, Outcome, RuntimeApi};
use harness::{binaries, host};

fn repo(path: &str) -> PathBuf {
    host::repo().join(path)
}

#[tokio::test]
async fn transformer_binary_answers_sample_events_and_reports_bad_payloads() {
    let binary = binaries::build("transformer", false).unwrap();
    let api = RuntimeApi::start().await.unwrap();
    let _f = FunctionProcess::spawn(&binary, &api, &[], true).unwrap();
    api.wait_for_polls(1, Duration::from_secs(30)).await.unwrap();

    let samples = [
        "direct-put",
        "kinesis-source",
        "plain-python-producer",
        "duplicates",
        "aws-sample-shapes",
    ];
    // The last one also as an editor that writes a byte-order mark saves it:
    // the handler skips the mark (`parse_request`).
    let bodies = samples
        .iter()
        .map(|name| (*name, false))
        .chain([("aws-sample-shapes", true)]);
    for (name, with_bom) in bodies {
        let mut event = std::fs::read(repo(&format!("events/transformer/{name}.json"))).unwrap();
        if with_bom {
            event.splice(0..0, chat_pipeline::input::UTF8_BOM.iter().copied());
        }
        let expected: serde_json::Value =
            serde_json::from_slice(&std::fs::read(repo(&format!("events/transformer/{name}.expected.json"))).unwrap())
                .unwrap();
        match api.invoke(event, Duration::from_secs(30)).await.unwrap() {
            Outcome::Response(body) => {
                let actual: serde_json::Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(actual, expected, "{name} (byte-order mark: {with_bom})");
            }
            Outcome::Error(e) => panic!("{name} (byte-order mark: {with_bom}): {e}"),
        }
    }

    let kinesis_event = br#"{"Records":[{"kinesis":{"data":"e30="}}]}"#.to_vec();
    match api.invoke(kinesis_event, Duration::from_secs(30)).await.unwrap() {
        Outcome::Error(e) => {
            let message = e["errorMessage"].as_str().unwrap_or_default();
            assert!(message.contains("missing field `deliveryStreamArn`"), "{message}");
        }
        Outcome::Response(body) => panic!("expected an error, got {}", String::from_utf8_lossy(&body)),
    }
    // The handler, not lambda_runtime, checks the body is JSON (see
    // transformer::runtime), and says so through the runtime.
    match api
        .invoke(b"{\"records\":[".to_vec(), Duration::from_secs(30))
        .await
        .unwrap()
    {
        Outcome::Error(e) => {
            assert_eq!(e["errorType"], "InvalidTransformationEvent");
            let message = e["errorMessage"].as_str().unwrap_or_default();
            assert!(
                message.contains("the request body is not JSON: EOF while parsing"),
                "{message}"
            );
        }
        Outcome::Response(body) => panic!("expected an error, got {}", String::from_utf8_lossy(&body)),
    }
    let duplicate_ids = serde_json::json!({
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/d",
        "records": [
            {"recordId": "1", "approximateArrivalTimestamp": 1795305600000u64, "data": "e30="},
            {"recordId": "1", "approximateArrivalTimestamp": 1795305600000u64, "data": "e30="}
        ]
    });
    match api
        .invoke(duplicate_ids.to_string().into_bytes(), Duration::from_secs(30))
        .await
        .unwrap()
    {
        Outcome::Error(e) => {
            assert_eq!(e["errorType"], "InvalidTransformationEvent");
            assert!(
                e["errorMessage"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("appears at records 0 and 1")
            );
        }
        Outcome::Response(body) => panic!("expected an error, got {}", String::from_utf8_lossy(&body)),
    }
}

/// Lambda Managed Instances run invocations concurrently in one process
/// (lambda_runtime's `run_concurrent`, `AWS_LAMBDA_MAX_CONCURRENCY`): every
/// response must answer its own request, though the request bodies reach
/// the handler through a task-local value rather than the payload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_each_answer_their_own_request() {
    const WORKERS: usize = 4;
    const INVOCATIONS: usize = 12;
    let binary = binaries::build("transformer", false).unwrap();
    let api = RuntimeApi::start().await.unwrap();
    let concurrency = WORKERS.to_string();
    let _f = FunctionProcess::spawn(&binary, &api, &[("AWS_LAMBDA_MAX_CONCURRENCY", &concurrency)], true).unwrap();
    // Every worker long-polls on its own before any event is queued.
    api.wait_for_polls(WORKERS, Duration::from_secs(30)).await.unwrap();

    let sample: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo("events/transformer/direct-put.json")).unwrap()).unwrap();
    let request = |i: usize| {
        let mut event = sample.clone();
        for (n, record) in event["records"].as_array_mut().unwrap().iter_mut().enumerate() {
            record["recordId"] = serde_json::json!(format!("request-{i}-record-{n}"));
        }
        // Requests differ in size too, so they take different times.
        let records = event["records"].as_array().unwrap().clone();
        event["records"] = serde_json::json!(records.into_iter().take(1 + i % 3).collect::<Vec<_>>());
        serde_json::to_vec(&event).unwrap()
    };
    let answers = futures_util::future::join_all((0..INVOCATIONS).map(|i| {
        let api = &api;
        let body = request(i);
        async move { (i, api.invoke(body, Duration::from_secs(30)).await) }
    }))
    .await;
    for (i, answer) in answers {
        match answer.unwrap() {
            Outcome::Response(body) => {
                let response: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let ids: Vec<&str> = response["records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["recordId"].as_str().unwrap())
                    .collect();
                let expected: Vec<String> = (0..1 + i % 3).map(|n| format!("request-{i}-record-{n}")).collect();
                assert_eq!(ids, expected, "invocation {i} answered another request");
            }
            Outcome::Error(e) => panic!("invocation {i}: {e}"),
        }
    }
}

#[tokio::test]
async fn transformer_refuses_to_start_with_a_bad_drop_list() {
    let binary = binaries::build("transformer", false).unwrap();
    let api = RuntimeApi::start().await.unwrap();
    let mut f = FunctionProcess::spawn(&binary, &api, &[("DROP_EVENT_TYPES", "LEAVE,DANCE")], false).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), f.child.wait())
        .await
        .expect("the process should exit")
        .unwrap();
    assert!(!status.success());
    assert!(
        api.wait_for_polls(1, Duration::from_millis(100)).await.is_err(),
        "it never asked for an event"
    );
}

#[tokio::test]
async fn producer_binary_runs_a_scheduled_tick_on_stdout_and_rejects_bad_overrides() {
    let binary = binaries::build("producer", false).unwrap();
    let api = RuntimeApi::start().await.unwrap();
    let _f = FunctionProcess::spawn(&binary, &api, &[("EVENTS_PER_INVOCATION", "50")], true).unwrap();
    api.wait_for_polls(1, Duration::from_secs(30)).await.unwrap();
    let event = std::fs::read(repo("events/producer/scheduled-rule.json")).unwrap();
    match api.invoke(event, Duration::from_secs(30)).await.unwrap() {
        Outcome::Response(body) => {
            let summary: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(summary["generated"], 50);
            assert_eq!(summary["delivered"], 50);
            assert_eq!(summary["sink"], "stdout");
            assert_eq!(summary["window_end"], "2026-11-21T12:00:00.000Z");
        }
        Outcome::Error(e) => panic!("{e}"),
    }
    match api
        .invoke(br#"{"events": 0}"#.to_vec(), Duration::from_secs(30))
        .await
        .unwrap()
    {
        Outcome::Error(e) => {
            assert_eq!(e["errorType"], "InvalidPayload");
            assert!(
                e["errorMessage"].as_str().unwrap_or_default().contains("`events`"),
                "{e}"
            );
        }
        Outcome::Response(body) => panic!("expected an error, got {}", String::from_utf8_lossy(&body)),
    }
}

/// A function binary run by hand, outside Lambda, says what it is and how to
/// run it (exit 2), instead of the runtime's panic and backtrace.
#[test]
fn a_function_binary_run_outside_lambda_says_how_to_run_it() {
    for name in ["transformer", "producer"] {
        let binary = binaries::build(name, false).unwrap();
        let out = std::process::Command::new(&binary)
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .env_remove("AWS_LAMBDA_FUNCTION_NAME")
            .env_remove("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
            .env_remove("AWS_LAMBDA_FUNCTION_VERSION")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains("make watch") && stderr.contains(&format!("make invoke-{name}")),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
