//! The AWS emulator for local runs and integration tests: moto's server
//! (`moto[server]`, pinned in tools/pyproject.toml and installed into
//! `.venv-tools` by `make setup`), run by `python -m chat_tools.emulator`, which fixes
//! moto's Kinesis race in its process and can inject faults at the wire
//! (`make demo FAULTS=1`). Started on a free loopback port and stopped, by
//! the process it started, when the [`Emulator`] is dropped. It speaks
//! Kinesis, Firehose (Direct PUT into S3, without Lambda processing) and S3.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;

use crate::host;

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

/// The emulator could not be started.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error(
        "the AWS emulator's Python (with moto) was not found; looked for {tried}. Install it with `make setup` (moto is pinned in tools/pyproject.toml and goes into .venv-tools)"
    )]
    NotInstalled { tried: String },
    #[error("could not start {binary}: {source}")]
    Spawn { binary: PathBuf, source: std::io::Error },
    #[error("the emulator (python -m chat_tools.emulator) did not answer on {endpoint} within {waited:?}")]
    NotReady { endpoint: String, waited: Duration },
    #[error("no free loopback port: {0}")]
    Port(std::io::Error),
}

/// A running moto server.
pub struct Emulator {
    child: Child,
    pub endpoint: String,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python that has moto: `$EMULATOR_PYTHON`, the project's
/// `.venv-tools`, or `python3` on `PATH`.
pub fn find_emulator_python() -> Result<PathBuf, EmulatorError> {
    host::find_tool("EMULATOR_PYTHON", ".venv-tools/bin/python", "python3")
        .map_err(|tried| EmulatorError::NotInstalled { tried })
}

/// How to run the emulator.
#[derive(Clone, Debug, Default)]
pub struct EmulatorOptions {
    /// Inject the faults that chat_tools.emulator lists (throttled and
    /// partially failed PutRecords, refused S3 writes).
    pub faults: bool,
    /// Where the emulator appends each injected fault, one JSON line each.
    pub fault_log: Option<PathBuf>,
}

impl Emulator {
    /// Starts the emulator and waits until it answers.
    pub async fn start() -> Result<Self, EmulatorError> {
        Self::start_with(&EmulatorOptions::default()).await
    }

    /// Starts the emulator with `options` and waits until it answers.
    pub async fn start_with(options: &EmulatorOptions) -> Result<Self, EmulatorError> {
        let binary = find_emulator_python()?;
        let port = host::free_port().map_err(EmulatorError::Port)?;
        let mut command = host::python_module(&binary, "emulator");
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        if options.faults {
            command.arg("--faults");
        }
        if let Some(log) = &options.fault_log {
            command.arg("--fault-log").arg(log);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| EmulatorError::Spawn {
                binary: binary.clone(),
                source,
            })?;
        let emulator = Emulator {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let waited = Duration::from_secs(30);
        if host::wait_for_port(port, waited).await {
            return Ok(emulator);
        }
        Err(EmulatorError::NotReady {
            endpoint: emulator.endpoint.clone(),
            waited,
        })
    }

    /// The emulator for a test; panics with instructions when it cannot
    /// start. Tests that need it are `#[ignore]`d: `cargo test`
    /// lists them as ignored (visibly, never as passed) and `make test` runs
    /// them with `--include-ignored`, where a missing emulator fails.
    pub async fn for_tests() -> Self {
        Self::start().await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// SDK configuration pointing at the emulator.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "emulator"))
            .load()
            .await
    }

    /// The environment a function process needs to reach the emulator.
    pub fn function_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_REGION", REGION),
            ("AWS_DEFAULT_REGION", REGION),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }
}

/// S3 client for the emulator (path-style addressing).
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(true).build())
}
