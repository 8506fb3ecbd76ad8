//! A local stand-in for the Lambda Runtime API, and a function process that
//! talks to it: enough of Lambda to run a function's release binary exactly as
//! Lambda does (`GET .../invocation/next`, `POST .../response` or `.../error`),
//! measure its cold start (process start until the first `next` poll) and its
//! peak memory, and invoke it from tests through the real runtime path.
//!
//! Only the parts of the API that `lambda_runtime` uses are served; every
//! `next` answer carries `Lambda-Runtime-Aws-Request-Id` and
//! `Lambda-Runtime-Deadline-Ms`, which the runtime requires.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};

/// How an invocation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The function's response body.
    Response(Vec<u8>),
    /// The error document the function posted (`errorType`, `errorMessage`).
    Error(serde_json::Value),
}

#[derive(Default)]
struct State {
    queue: VecDeque<(String, Vec<u8>, u64)>,
    waiting: HashMap<String, oneshot::Sender<Outcome>>,
    polls: Vec<Instant>,
    init_error: Option<serde_json::Value>,
    counter: u64,
}

/// The Runtime API server. Dropping it stops serving.
pub struct RuntimeApi {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    queued: Arc<Notify>,
    polled: Arc<Notify>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl RuntimeApi {
    /// Serves on a free loopback port.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let queued = Arc::new(Notify::new());
        let polled = Arc::new(Notify::new());
        let (s, q, p) = (state.clone(), queued.clone(), polled.clone());
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (s, q, p) = (s.clone(), q.clone(), p.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| route(req, s.clone(), q.clone(), p.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(RuntimeApi {
            addr,
            state,
            queued,
            polled,
            server,
        })
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Queues an event and waits for the function's answer, at most `timeout`.
    pub async fn invoke(&self, payload: Vec<u8>, timeout: Duration) -> Result<Outcome, String> {
        let deadline_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| (d + timeout).as_millis() as u64)
            .unwrap_or_default();
        let (tx, rx) = oneshot::channel();
        {
            let mut st = lock(&self.state);
            st.counter += 1;
            let id = format!("00000000-0000-4000-8000-{:012}", st.counter);
            st.waiting.insert(id.clone(), tx);
            st.queue.push_back((id, payload, deadline_ms));
        }
        self.queued.notify_one();
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(_)) => Err("the invocation was dropped".into()),
            Err(_) => Err(format!("no answer within {timeout:?}")),
        }
    }

    /// Waits until the function has polled for an event `n` times in all.
    pub async fn wait_for_polls(&self, n: usize, timeout: Duration) -> Result<Instant, String> {
        let until = Instant::now() + timeout;
        loop {
            let notified = self.polled.notified();
            {
                let st = lock(&self.state);
                if let Some(at) = st.polls.get(n - 1) {
                    return Ok(*at);
                }
                if let Some(e) = &st.init_error {
                    return Err(format!("the function reported an init error: {e}"));
                }
            }
            let left = until.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, notified).await.is_err() {
                return Err(format!("the function did not poll {n} time(s) within {timeout:?}"));
            }
        }
    }
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r
}

/// A request's whole body (empty if the client went away mid-body).
async fn body_bytes(req: Request<Incoming>) -> Bytes {
    req.into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default()
}

async fn route(
    req: Request<Incoming>,
    state: Arc<Mutex<State>>,
    queued: Arc<Notify>,
    polled: Arc<Notify>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let parts: Vec<&str> = path.trim_start_matches("/2018-06-01/runtime/").split('/').collect();
    match (method, parts.as_slice()) {
        (Method::GET, ["invocation", "next"]) => {
            lock(&state).polls.push(Instant::now());
            polled.notify_waiters();
            loop {
                let notified = queued.notified();
                if let Some((id, payload, deadline)) = lock(&state).queue.pop_front() {
                    let mut r = reply(StatusCode::OK, payload);
                    let h = r.headers_mut();
                    let header = |v: String| {
                        v.parse()
                            .unwrap_or_else(|_| hyper::header::HeaderValue::from_static(""))
                    };
                    h.insert("lambda-runtime-aws-request-id", header(id));
                    h.insert("lambda-runtime-deadline-ms", header(deadline.to_string()));
                    h.insert(
                        "lambda-runtime-invoked-function-arn",
                        header("arn:aws:lambda:us-east-1:123456789012:function:local".into()),
                    );
                    h.insert(
                        "lambda-runtime-trace-id",
                        header("Root=1-00000000-000000000000000000000000".into()),
                    );
                    return Ok(r);
                }
                notified.await;
            }
        }
        (Method::POST, ["invocation", id, kind @ ("response" | "error")]) => {
            let body = body_bytes(req).await;
            let outcome = if *kind == "response" {
                Outcome::Response(body.to_vec())
            } else {
                Outcome::Error(serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
            };
            if let Some(tx) = lock(&state).waiting.remove(*id) {
                let _ = tx.send(outcome);
            }
            Ok(reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#))
        }
        (Method::POST, ["init", "error"]) => {
            let body = body_bytes(req).await;
            lock(&state).init_error = Some(serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null));
            polled.notify_waiters();
            Ok(reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#))
        }
        _ => Ok(reply(StatusCode::NOT_FOUND, "not found")),
    }
}

/// A function binary running against a [`RuntimeApi`], as Lambda runs it.
pub struct FunctionProcess {
    pub child: tokio::process::Child,
    pub started: Instant,
}

impl FunctionProcess {
    /// Starts `binary` with the environment Lambda gives a function, plus
    /// `env`. Its stdout and stderr are inherited unless `quiet`.
    pub fn spawn(binary: &Path, api: &RuntimeApi, env: &[(&str, &str)], quiet: bool) -> std::io::Result<Self> {
        let mut cmd = tokio::process::Command::new(binary);
        cmd.env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env(
                "AWS_LAMBDA_FUNCTION_NAME",
                binary.file_name().and_then(|n| n.to_str()).unwrap_or("function"),
            )
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/local")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        if quiet {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        let started = Instant::now();
        let child = cmd.spawn()?;
        Ok(FunctionProcess { child, started })
    }

    /// Peak resident memory so far (`VmHWM`), in KiB, read from /proc.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}
