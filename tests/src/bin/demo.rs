//! `make demo`: the whole pipeline on this machine. Starts the AWS emulator
//! and `cargo lambda watch`, creates the stream, bucket and delivery streams,
//! invokes the producer for a few schedule ticks, slips in malformed records,
//! drives everything through the transformer with the local Firehose
//! stand-in, and prints what landed where. Everything it started is stopped
//! at the end, and on Ctrl-C.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use base64_simd::STANDARD;
use chat_pipeline::timestamp::Timestamp;
use pipeline_tests::emulator::{Emulator, s3_client};
use pipeline_tests::harness::repo;
use pipeline_tests::lake;
use pipeline_tests::lambda_watch::{LambdaWatch, WatchInvoker};
use pipeline_tests::local_firehose::LocalFirehose;
use pipeline_tests::resources::{self, Names};
use pipeline_tests::scenario;
use pipeline_tests::template::Template;

const TICKS: i64 = 3;
const EVENTS_PER_TICK: &str = "500";

type Result<T> = std::result::Result<T, String>;

/// `path` relative to the repository, for display.
fn shown(path: &Path) -> String {
    path.strip_prefix(repo()).unwrap_or(path).display().to_string()
}

fn step(n: usize, text: &str) {
    println!("\n[{n}/7] {text}");
}

#[tokio::main]
async fn main() {
    let outcome = tokio::select! {
        result = run() => result,
        _ = tokio::signal::ctrl_c() => Err("interrupted".to_owned()),
    };
    // Leaving `run` dropped the emulator and cargo lambda watch, which stops them.
    match outcome {
        Ok(()) => println!("\nStopped the emulator and cargo lambda watch. Done."),
        Err(e) => {
            eprintln!("\ndemo failed: {e}\n(the emulator and cargo lambda watch were stopped)");
            std::process::exit(1);
        }
    }
}

async fn run() -> Result<()> {
    let started = Instant::now();
    println!("chat-pipeline: local demo (producer -> Kinesis -> Firehose/transformer -> S3), all on this machine");

    step(1, "Starting the AWS emulator (moto_server)");
    let emulator = Emulator::start().await.map_err(|e| e.to_string())?;
    println!("      listening on {}", emulator.endpoint);
    let config = emulator.sdk_config().await;

    step(
        2,
        "Creating the Kinesis stream, S3 bucket and Firehose delivery streams",
    );
    let template = Template::repository().map_err(|e| e.to_string())?;
    let settings = template.delivery_settings().map_err(|e| e.to_string())?;
    let names = Names::with_prefix("chat-pipeline-local");
    resources::create(&config, &names, &settings)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "      stream {}  bucket {}  delivery stream {}",
        names.stream, names.bucket, names.delivery_stream
    );
    println!("      prefixes from template.yaml: {}", settings.prefix);

    step(
        3,
        "Starting both functions under `cargo lambda watch` (the real Lambda runtime path)",
    );
    let mut env = emulator.function_env();
    for (k, v) in [
        ("SINK", "kinesis"),
        ("STREAM_NAME", names.stream.as_str()),
        ("EVENTS_PER_INVOCATION", EVENTS_PER_TICK),
    ] {
        env.push((k.to_owned(), v.to_owned()));
    }
    let log = repo().join("target/demo-cargo-lambda-watch.log");
    let watch = LambdaWatch::start(&env, &log).await.map_err(|e| e.to_string())?;
    println!(
        "      Invoke API on 127.0.0.1:{} (function output in {})",
        watch.port,
        shown(&log)
    );

    step(4, "Producer: one invocation per schedule tick, through the Invoke API");
    let now = Timestamp::now().millis() / 60_000 * 60_000;
    let (mut generated, mut delivered) = (0u64, 0u64);
    for i in (0..TICKS).rev() {
        let tick = Timestamp::from_millis(now - i * 60_000).map_err(|e| e.to_string())?;
        let event = scenario::scheduled_event(tick);
        let body = watch
            .invoke("producer", serde_json::to_vec(&event).map_err(|e| e.to_string())?)
            .await
            .map_err(|e| format!("{e} (see {})", shown(&log)))?;
        let s: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        println!(
            "      tick {}: {} generated, {} delivered to {} in {} request(s), {} resent, {:.0} ms",
            tick,
            s["generated"],
            s["delivered"],
            s["sink"].as_str().unwrap_or("?"),
            s["attempts"],
            s["retried_records"],
            s["duration_ms"].as_f64().unwrap_or(0.0)
        );
        generated += s["generated"].as_u64().unwrap_or(0);
        delivered += s["delivered"].as_u64().unwrap_or(0);
    }

    step(
        5,
        "A misbehaving producer writes malformed records straight into the stream",
    );
    let malformed = scenario::malformed_records();
    scenario::put_raw(&config, &names.stream, &malformed).await?;
    for (kind, data) in &malformed {
        println!("      {kind:<20} {}", String::from_utf8_lossy(data));
    }

    step(
        6,
        "Firehose (local stand-in): read the stream, invoke the transformer, write partitioned GZIP objects",
    );
    let mut firehose = LocalFirehose::new(&config, names.clone(), settings.clone(), WatchInvoker(&watch));
    let stats = firehose.drain().await.map_err(|e| e.to_string())?;
    println!(
        "      {} records read in {} invocation(s); largest request {:.2} MB, largest response {:.2} MB",
        stats.records_read,
        stats.invocations,
        stats.largest_request_bytes as f64 / 1e6,
        stats.largest_response_bytes as f64 / 1e6
    );

    step(7, "Reading back the data lake");
    let s3 = s3_client(&config);
    let events = lake::objects(&s3, &names.bucket, "events/")
        .await
        .map_err(|e| e.to_string())?;
    let errors = lake::objects(&s3, &names.bucket, "errors/")
        .await
        .map_err(|e| e.to_string())?;
    let out = repo().join("out");
    let _ = std::fs::remove_dir_all(&out);
    let copied = lake::download_all(&s3, &names.bucket, &out)
        .await
        .map_err(|e| e.to_string())?;

    println!("\n================================ Summary ================================");
    println!("  events produced            {generated:>6}");
    println!("  delivered to Kinesis       {delivered:>6}");
    println!("  transformed (Ok)           {:>6}", stats.ok);
    println!("  dropped (filter/duplicate) {:>6}", stats.dropped);
    println!("  failed (to error prefix)   {:>6}", stats.processing_failed);
    print_partition_table(&events);
    if let Some(object) = events.first()
        && let Some(line) = lake::lines(object).next()
    {
        println!(
            "\nSample output line ({}):\n  {}",
            object.key,
            String::from_utf8_lossy(line)
        );
    }
    println!("\nFailure demo: the malformed records, as Firehose's error records under errors/:");
    for object in &errors {
        println!("  {}", object.key);
        for line in lake::lines(object) {
            let record: serde_json::Value = serde_json::from_slice(line).map_err(|e| e.to_string())?;
            let raw = STANDARD
                .decode_to_vec(record["rawData"].as_str().unwrap_or_default())
                .unwrap_or_default();
            println!(
                "    {}  rawData: {}",
                record["errorCode"].as_str().unwrap_or("?"),
                String::from_utf8_lossy(&raw)
            );
        }
    }
    println!(
        "\nWhere it landed: s3://{}/ on the emulator, copied to {}/ ({copied} objects, GZIP; open with `zcat`):",
        names.bucket,
        shown(&out)
    );
    for object in events.iter().chain(&errors) {
        println!("  {}/{}", shown(&out), object.key);
    }
    println!("Finished in {:.1} s.", started.elapsed().as_secs_f64());
    drop(watch);
    drop(emulator);
    Ok(())
}

/// Objects (and records) per event type and arrival day (`dt`).
fn print_partition_table(events: &[lake::Object]) {
    let mut table: BTreeMap<String, BTreeMap<String, (usize, usize)>> = BTreeMap::new();
    let mut hours: Vec<String> = Vec::new();
    for object in events {
        let p = scenario::partitions_of(&object.key);
        let get = |k: &str| p.get(k).cloned().unwrap_or_default();
        let hour = format!("dt={}", get("dt"));
        if !hours.contains(&hour) {
            hours.push(hour.clone());
        }
        let cell = table.entry(get("event_type")).or_default().entry(hour).or_default();
        cell.0 += 1;
        cell.1 += lake::lines(object).count();
    }
    hours.sort();
    println!("\nObjects (records) per partition, event_type by arrival day:");
    print!("  {:<14}", "event_type");
    for h in &hours {
        print!("{h:>18}");
    }
    println!();
    for (event_type, row) in &table {
        print!("  {event_type:<14}");
        for h in &hours {
            match row.get(h) {
                Some((objects, records)) => print!("{:>18}", format!("{objects} ({records})")),
                None => print!("{:>18}", "-"),
            }
        }
        println!();
    }
}
