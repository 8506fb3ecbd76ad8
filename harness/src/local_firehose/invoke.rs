//! Phase 2, invoke: the transformer called with one transformation event,
//! retried `NumberOfRetries` times as Firehose retries a failed invocation;
//! injected failures (`make demo FAULTS=1`) fail every attempt.

use std::future::Future;

use chat_pipeline::timestamp::Timestamp;
use lambda_runtime::{Context, LambdaEvent};

/// Why an invocation failed, as the invoker's own error (with its sources):
/// Firehose records it in the error objects' `errorMessage`.
pub type InvokeError = Box<dyn std::error::Error + Send + Sync>;

/// Invokes the transformer with a request body, returning the response body.
pub trait Invoker: Send + Sync {
    fn invoke(&self, payload: Vec<u8>) -> impl Future<Output = Result<Vec<u8>, InvokeError>> + Send;
}

/// The transformer's handler, called in-process exactly as lambda_runtime
/// would (request bytes handed over, response serialized). Its re-ingestion
/// clients point at the emulator.
pub struct InProcess {
    pub state: transformer::Transformer,
}

impl Invoker for InProcess {
    async fn invoke(&self, payload: Vec<u8>) -> Result<Vec<u8>, InvokeError> {
        // What `transformer::runtime` hands the handler: the body as the runtime received it.
        let body = bytes::Bytes::from(payload);
        let mut context = Context::default();
        context.deadline = (Timestamp::now().millis() + 120_000) as u64;
        let response = transformer::handle(&self.state, LambdaEvent::new(body, context)).await?;
        Ok(serde_json::to_vec(&response)?)
    }
}

/// What invoking one batch came to.
pub(super) struct Invocation {
    /// The response body, if an attempt succeeded.
    pub(super) response: Option<Vec<u8>>,
    /// Attempts made.
    pub(super) attempts: usize,
    /// Attempts that failed.
    pub(super) failed: usize,
    /// The last failure, for the error records' `errorMessage`.
    pub(super) last_error: String,
}

/// Invokes with `request` up to `attempts` times until one succeeds; an
/// `injected` batch fails every attempt, each reported to `report`.
pub(super) async fn with_retries<I: Invoker>(
    invoker: &I,
    request: &[u8],
    attempts: u32,
    injected: Option<(usize, usize)>,
    report: impl Fn(&str),
) -> Invocation {
    let mut out = Invocation {
        response: None,
        attempts: 0,
        failed: 0,
        last_error: String::new(),
    };
    for attempt in 1..=attempts {
        out.attempts += 1;
        if let Some((batch, records)) = injected {
            out.failed += 1;
            out.last_error = "injected fault: the function errored".to_owned();
            report(&format!(
                "transformer invocation {batch} ({records} records) failed (injected), attempt {attempt} of {attempts}"
            ));
            continue;
        }
        match invoker.invoke(request.to_vec()).await {
            Ok(body) => {
                out.response = Some(body);
                break;
            }
            Err(e) => {
                out.failed += 1;
                out.last_error = chat_pipeline::sink::describe_chain(e.as_ref());
            }
        }
    }
    out
}
