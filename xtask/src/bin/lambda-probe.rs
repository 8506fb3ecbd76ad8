//! Measures a function binary the way Lambda runs it, against the local
//! Runtime API stand-in: cold start (process start until it first asks for an
//! event), the invocation's duration, and peak resident memory.
//!
//! ```text
//! lambda-probe --binary target/release/transformer --event FILE [--env K=V]... [--starts N]
//! lambda-probe --binary target/release/transformer --synthetic-transformer-bytes 6000000 --env REINGEST=false
//! ```

use std::path::PathBuf;
use std::time::Duration;

use transformer::synthetic::{Format, Source, transformation_event};
use xtask::runtime_api::{FunctionProcess, Outcome, RuntimeApi};

struct Args {
    binary: PathBuf,
    event: Option<PathBuf>,
    synthetic_bytes: Option<usize>,
    env: Vec<(String, String)>,
    starts: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        binary: PathBuf::new(),
        event: None,
        synthetic_bytes: None,
        env: Vec::new(),
        starts: 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--binary" => args.binary = PathBuf::from(value()?),
            "--event" => args.event = Some(PathBuf::from(value()?)),
            "--synthetic-transformer-bytes" => {
                args.synthetic_bytes = Some(
                    value()?
                        .parse()
                        .map_err(|e| format!("--synthetic-transformer-bytes: {e}"))?,
                )
            }
            "--env" => {
                let v = value()?;
                let (k, val) = v.split_once('=').ok_or("--env takes KEY=VALUE")?;
                args.env.push((k.to_owned(), val.to_owned()));
            }
            "--starts" => args.starts = value()?.parse().map_err(|e| format!("--starts: {e}"))?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.binary.as_os_str().is_empty() {
        return Err("--binary is required".into());
    }
    Ok(args)
}

/// A Kinesis-source transformation event of producer events whose JSON is
/// just under `bytes`.
fn synthetic_event(bytes: usize) -> Result<Vec<u8>, serde_json::Error> {
    let mut n = 1000;
    loop {
        let larger = serde_json::to_vec(&transformation_event(Format::Producer, Source::KinesisStream, n + 500))?;
        if larger.len() > bytes {
            return serde_json::to_vec(&transformation_event(Format::Producer, Source::KinesisStream, n));
        }
        n += 500;
    }
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("lambda-probe: {}", chat_pipeline::sink::describe_chain(e.as_ref()));
        std::process::exit(1);
    }
}

/// Any step's own error, with its sources, for the one line `main` prints.
type ProbeError = Box<dyn std::error::Error + Send + Sync>;

async fn run() -> Result<(), ProbeError> {
    let args = parse_args()?;
    let env: Vec<(&str, &str)> = args.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let name = args.binary.display().to_string();

    // Cold start: many fresh processes, time to the first poll.
    let mut cold: Vec<f64> = Vec::new();
    for _ in 0..args.starts {
        let api = RuntimeApi::start().await?;
        let f = FunctionProcess::spawn(&args.binary, &api, &env, true).map_err(|e| format!("{name}: {e}"))?;
        let polled = api.wait_for_polls(1, Duration::from_secs(10)).await?;
        cold.push(polled.duration_since(f.started).as_secs_f64() * 1000.0);
    }
    cold.sort_by(f64::total_cmp);
    if !cold.is_empty() {
        println!(
            "cold start (process start -> first /next), {} starts: median {:.2} ms, p90 {:.2} ms, max {:.2} ms",
            cold.len(),
            cold[cold.len() / 2],
            cold[cold.len() * 9 / 10],
            cold[cold.len() - 1]
        );
    }

    // One invocation in a fresh process, then its peak memory.
    let payload = match (&args.event, args.synthetic_bytes) {
        (Some(path), _) => std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?,
        (None, Some(bytes)) => synthetic_event(bytes)?,
        (None, None) => return Ok(()),
    };
    let api = RuntimeApi::start().await?;
    let f = FunctionProcess::spawn(&args.binary, &api, &env, true).map_err(|e| format!("{name}: {e}"))?;
    api.wait_for_polls(1, Duration::from_secs(10)).await?;
    let before = f.peak_rss_kib();
    let started = std::time::Instant::now();
    let outcome = api.invoke(payload.clone(), Duration::from_secs(60)).await?;
    let elapsed = started.elapsed();
    api.wait_for_polls(2, Duration::from_secs(10)).await?;
    let peak = f.peak_rss_kib();
    let (kind, size) = match &outcome {
        Outcome::Response(body) => ("response", body.len()),
        Outcome::Error(e) => {
            println!("error: {e}");
            ("error", 0)
        }
    };
    println!(
        "invocation: request {} bytes -> {kind} {size} bytes in {:.1} ms (round trip through the Runtime API)",
        payload.len(),
        elapsed.as_secs_f64() * 1000.0
    );
    println!(
        "peak RSS: {:.1} MiB after the invocation ({:.1} MiB before it)",
        peak.unwrap_or(0) as f64 / 1024.0,
        before.unwrap_or(0) as f64 / 1024.0
    );
    Ok(())
}
