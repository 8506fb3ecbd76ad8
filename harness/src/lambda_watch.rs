//! `cargo lambda watch`: both functions served on a local Lambda Invoke API
//! (`POST /2015-03-31/functions/{name}/invocations`), each run by the real
//! `lambda_runtime` against cargo-lambda's Runtime API emulation. The process
//! group we start is stopped when the [`LambdaWatch`] is dropped.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::host::{self, repo};

/// `cargo lambda watch` could not be started or reached.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(
        "cargo-lambda was not found; looked for {tried}. Install it with `make setup` (pinned in tools/pyproject.toml, into .venv-tools)"
    )]
    NotInstalled { tried: String },
    #[error("starting cargo lambda watch: {0}")]
    Spawn(std::io::Error),
    #[error("cargo lambda watch did not listen on port {port} within {waited:?}")]
    NotReady { port: u16, waited: Duration },
    #[error("invoking {function}: {message}")]
    Invoke { function: String, message: String },
    #[error("invoking {function}: {reason}; the end of cargo lambda watch's log:\n{tail}")]
    Failed {
        function: String,
        reason: String,
        tail: String,
    },
}

/// Lines in cargo lambda watch's output that mean an invocation will never be
/// answered: the function's `cargo run` failed to build, or its process
/// exited. cargo-lambda logs the latter and keeps the HTTP request open, so
/// without this an invocation waits out its whole timeout (observed: a full
/// disk during the first build left the test waiting 15 minutes).
const FAILURE_MARKERS: [&str; 3] = [
    "error: could not compile",
    "ERROR command exited",
    "No space left on device",
];

/// A running `cargo lambda watch`.
pub struct LambdaWatch {
    child: Mutex<Child>,
    log: PathBuf,
    pub port: u16,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Drop for LambdaWatch {
    fn drop(&mut self) {
        // cargo-lambda runs the functions as children: stop the whole group.
        let child = self.child.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        let group = format!("-{}", child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        std::thread::sleep(Duration::from_millis(300));
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = child.wait();
    }
}

/// Where cargo-lambda is: `$CARGO_LAMBDA`, the project's `.venv-tools`, or `PATH`.
pub fn find_cargo_lambda() -> Result<PathBuf, WatchError> {
    host::find_tool("CARGO_LAMBDA", ".venv-tools/bin/cargo-lambda", "cargo-lambda")
        .map_err(|tried| WatchError::NotInstalled { tried })
}

impl LambdaWatch {
    /// Starts `cargo lambda watch` in the workspace on a free port, with `env`
    /// passed to the functions. Its output goes to `log`.
    pub async fn start(env: &[(String, String)], log: &Path) -> Result<Self, WatchError> {
        let binary = find_cargo_lambda()?;
        let port = host::free_port().map_err(WatchError::Spawn)?;
        // The log's folder (target/) may not exist: with CARGO_TARGET_DIR
        // set elsewhere, nothing else creates it.
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir).map_err(WatchError::Spawn)?;
        }
        let log_file = std::fs::File::create(log).map_err(WatchError::Spawn)?;
        let mut cmd = Command::new(&binary);
        crate::binaries::without_the_test_runs_cargo_env(&mut cmd);
        cmd.current_dir(repo())
            // The first invocation compiles the function; the timeout (and so
            // the deadline the function sees) must leave room for that.
            .args(["lambda", "watch", "--ignore-changes", "--timeout", "900"])
            .args(["-A", "127.0.0.1", "-P", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().map_err(WatchError::Spawn)?)
            .stderr(log_file)
            .process_group(0);
        if let Some(dir) = binary.parent() {
            // cargo-lambda calls `cargo`, and finds its own helpers (zig) here.
            let path = std::env::var_os("PATH").unwrap_or_default();
            let mut dirs = vec![dir.to_path_buf()];
            dirs.extend(std::env::split_paths(&path));
            if let Ok(joined) = std::env::join_paths(dirs) {
                cmd.env("PATH", joined);
            }
        }
        for (k, v) in env {
            cmd.arg("--env-var").arg(format!("{k}={v}"));
        }
        let child = cmd.spawn().map_err(WatchError::Spawn)?;
        let watch = LambdaWatch {
            child: Mutex::new(child),
            log: log.to_path_buf(),
            port,
            client: Client::builder(TokioExecutor::new()).build_http(),
        };
        let waited = Duration::from_secs(60);
        let started = Instant::now();
        while started.elapsed() < waited {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Ok(watch);
            }
            if let Some(reason) = watch.exited() {
                return Err(WatchError::Failed {
                    function: "(none yet)".into(),
                    reason,
                    tail: log_tail(&watch.log, 0),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(WatchError::NotReady { port, waited })
    }

    /// Invokes `function` through the Invoke API. A function error (the
    /// `X-Amz-Function-Error` header) is an `Err` carrying its document.
    pub async fn invoke(&self, function: &str, payload: Vec<u8>) -> Result<Vec<u8>, WatchError> {
        let err = |message: String| WatchError::Invoke {
            function: function.to_owned(),
            message,
        };
        let request = hyper::Request::post(format!(
            "http://127.0.0.1:{}/2015-03-31/functions/{function}/invocations",
            self.port
        ))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(payload)))
        .map_err(|e| err(e.to_string()))?;
        // The first invocation compiles the function: wait for the answer as
        // long as the function's timeout, unless the build or the process
        // fails first (only log lines written after this point count).
        let log_start = std::fs::metadata(&self.log).map_or(0, |m| m.len());
        let answer = tokio::time::timeout(Duration::from_secs(900), self.client.request(request));
        let response = tokio::select! {
            answer = answer => answer
                .map_err(|_| err("no answer within 15 minutes".into()))?
                .map_err(|e| err(e.to_string()))?,
            reason = self.failure(log_start) => {
                return Err(WatchError::Failed {
                    function: function.to_owned(),
                    reason,
                    tail: log_tail(&self.log, log_start),
                });
            }
        };
        let status = response.status();
        let function_error = response.headers().contains_key("x-amz-function-error");
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| err(e.to_string()))?
            .to_bytes()
            .to_vec();
        if function_error || !status.is_success() {
            return Err(err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body))));
        }
        Ok(body)
    }
}

impl LambdaWatch {
    /// Why cargo lambda watch itself is gone, if it is.
    fn exited(&self) -> Option<String> {
        let mut child = self.child.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match child.try_wait() {
            Ok(Some(status)) => Some(format!("cargo lambda watch exited ({status})")),
            Ok(None) => None,
            Err(e) => Some(format!("cargo lambda watch cannot be waited for: {e}")),
        }
    }

    /// Resolves once the log (from byte `from`) shows a failure marker or the
    /// watch process exits; pending otherwise.
    async fn failure(&self, from: u64) -> String {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if let Some(reason) = self.exited() {
                return reason;
            }
            let text = read_from(&self.log, from);
            if let Some(marker) = FAILURE_MARKERS.iter().find(|m| text.contains(**m)) {
                return format!("the log says `{marker}`");
            }
        }
    }
}

/// The log from byte `from` on (lossy UTF-8; empty if unreadable).
fn read_from(log: &Path, from: u64) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let mut text = Vec::new();
    if let Ok(mut file) = std::fs::File::open(log)
        && file.seek(SeekFrom::Start(from)).is_ok()
    {
        let _ = file.read_to_end(&mut text);
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// The last 40 lines of the log written since byte `from`.
fn log_tail(log: &Path, from: u64) -> String {
    let text = read_from(log, from);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// The transformer behind `cargo lambda watch`, for the local Firehose.
pub struct WatchInvoker<'a>(pub &'a LambdaWatch);

impl crate::local_firehose::Invoker for WatchInvoker<'_> {
    async fn invoke(&self, payload: Vec<u8>) -> Result<Vec<u8>, crate::local_firehose::InvokeError> {
        Ok(self.0.invoke("transformer", payload).await?)
    }
}
