//! Measures a function binary the way Lambda runs it, against the local
//! Runtime API stand-in: cold start (process start until it first asks for an
//! event), the invocation's duration, and peak resident memory.
//!
//! ```text
//! lambda-probe --binary target/release/transformer --event FILE [--env K=V]... [--starts N]
//! lambda-probe --binary target/release/transformer --synthetic-transformer-bytes 6000000 --env REINGEST=false
//! lambda-probe --binary target/release/transformer --synthetic-direct-put-bytes 2000000 --repeat 50 --starts 0
//! ```
//!
//! `--repeat N` invokes the same event N more times in the same warm process
//! and reports the round trip through the stand-in (request queued until the
//! response is received), median and p90: what Lambda bills for, plus the
//! stand-in's loopback HTTP.

use std::path::PathBuf;
use std::time::Duration;

use harness::runtime_api::{FunctionProcess, Outcome, RuntimeApi};
use testkit::synthetic::{Format, Source, transformation_event};

/// Measures a function binary the way Lambda runs it, against the local
/// Runtime API stand-in: cold start (process start until it first asks for
/// an event), one invocation's round trip and peak resident memory, and
/// optionally warm repeats. `make measure` runs it on the release binaries.
#[derive(Debug, clap::Parser)]
#[command(name = "lambda-probe", version)]
#[command(group = clap::ArgGroup::new("payload").multiple(false))]
struct Args {
    /// The function binary (a `bootstrap`), e.g. target/release/transformer.
    #[arg(long)]
    binary: PathBuf,
    /// The event to invoke it with, a JSON file.
    #[arg(long, group = "payload")]
    event: Option<PathBuf>,
    /// A generated Kinesis-source transformation event of about this many bytes.
    #[arg(long, group = "payload", value_name = "BYTES")]
    synthetic_transformer_bytes: Option<usize>,
    /// A generated Direct PUT transformation event of about this many bytes.
    #[arg(long, group = "payload", value_name = "BYTES")]
    synthetic_direct_put_bytes: Option<usize>,
    /// An environment variable for the function, KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// Fresh processes to time the cold start over.
    #[arg(long, default_value_t = 20)]
    starts: usize,
    /// Invoke the same event this many more times in the warm process.
    #[arg(long, default_value_t = 0)]
    repeat: usize,
}

fn parse_env(v: &str) -> Result<(String, String), String> {
    v.split_once('=')
        .map(|(k, val)| (k.to_owned(), val.to_owned()))
        .ok_or_else(|| format!("{v:?}: expected KEY=VALUE"))
}

/// A transformation event of producer events from `source` whose JSON is
/// just under `bytes`.
fn synthetic_event(source: Source, bytes: usize) -> Result<Vec<u8>, serde_json::Error> {
    let mut n = 100;
    loop {
        let larger = serde_json::to_vec(&transformation_event(Format::Producer, source, n + 100))?;
        if larger.len() > bytes {
            return serde_json::to_vec(&transformation_event(Format::Producer, source, n));
        }
        n += 100;
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
    let args = <Args as clap::Parser>::parse();
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
    let payload = match (
        &args.event,
        args.synthetic_transformer_bytes,
        args.synthetic_direct_put_bytes,
    ) {
        (Some(path), _, _) => std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?,
        (None, Some(bytes), _) => synthetic_event(Source::KinesisStream, bytes)?,
        (None, None, Some(bytes)) => synthetic_event(Source::DirectPut, bytes)?,
        (None, None, None) => return Ok(()),
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

    // The same event again in the warm process: the billed window, end to end.
    if args.repeat > 0 {
        let mut times: Vec<f64> = Vec::with_capacity(args.repeat);
        for _ in 0..args.repeat {
            let started = std::time::Instant::now();
            let outcome = api.invoke(payload.clone(), Duration::from_secs(60)).await?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            if let Outcome::Error(e) = outcome {
                return Err(format!("repeated invocation failed: {e}").into());
            }
        }
        times.sort_by(f64::total_cmp);
        println!(
            "warm invocations of the same {} byte request, {} times: median {:.1} ms, p90 {:.1} ms, min {:.1} ms",
            payload.len(),
            times.len(),
            times[times.len() / 2],
            times[times.len() * 9 / 10],
            times[0]
        );
    }
    Ok(())
}
