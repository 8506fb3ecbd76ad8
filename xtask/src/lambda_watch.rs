//! `cargo lambda watch`: both functions served on a local Lambda Invoke API
//! (`POST /2015-03-31/functions/{name}/invocations`), each run by the real
//! `lambda_runtime` against cargo-lambda's Runtime API emulation. The process
//! group we start is stopped when the [`LambdaWatch`] is dropped.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::harness::{self, repo};

/// `cargo lambda watch` could not be started or reached.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(
        "cargo-lambda was not found; looked for {tried}. Install it with `make setup` (pinned in tools/requirements.txt, into .venv)"
    )]
    NotInstalled { tried: String },
    #[error("starting cargo lambda watch: {0}")]
    Spawn(std::io::Error),
    #[error("cargo lambda watch did not listen on port {port} within {waited:?}")]
    NotReady { port: u16, waited: Duration },
    #[error("invoking {function}: {message}")]
    Invoke { function: String, message: String },
}

/// A running `cargo lambda watch`.
pub struct LambdaWatch {
    child: Child,
    pub port: u16,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Drop for LambdaWatch {
    fn drop(&mut self) {
        // cargo-lambda runs the functions as children: stop the whole group.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        std::thread::sleep(Duration::from_millis(300));
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

/// Where cargo-lambda is: `$CARGO_LAMBDA`, the project's `.venv`, or `PATH`.
pub fn find_cargo_lambda() -> Result<PathBuf, WatchError> {
    harness::find_tool("CARGO_LAMBDA", ".venv/bin/cargo-lambda", "cargo-lambda")
        .map_err(|tried| WatchError::NotInstalled { tried })
}

impl LambdaWatch {
    /// Starts `cargo lambda watch` in the workspace on a free port, with `env`
    /// passed to the functions. Its output goes to `log`.
    pub async fn start(env: &[(String, String)], log: &Path) -> Result<Self, WatchError> {
        let binary = find_cargo_lambda()?;
        let port = harness::free_port().map_err(WatchError::Spawn)?;
        let log_file = std::fs::File::create(log).map_err(WatchError::Spawn)?;
        let mut cmd = Command::new(&binary);
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
            child,
            port,
            client: Client::builder(TokioExecutor::new()).build_http(),
        };
        let waited = Duration::from_secs(60);
        let started = Instant::now();
        while started.elapsed() < waited {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Ok(watch);
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
        // The first invocation compiles the function.
        let response = tokio::time::timeout(Duration::from_secs(900), self.client.request(request))
            .await
            .map_err(|_| err("no answer within 15 minutes".into()))?
            .map_err(|e| err(e.to_string()))?;
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

/// The transformer behind `cargo lambda watch`, for the local Firehose.
pub struct WatchInvoker<'a>(pub &'a LambdaWatch);

impl crate::local_firehose::Invoker for WatchInvoker<'_> {
    async fn invoke(&self, payload: Vec<u8>) -> Result<Vec<u8>, crate::local_firehose::InvokeError> {
        Ok(self.0.invoke("transformer", payload).await?)
    }
}
