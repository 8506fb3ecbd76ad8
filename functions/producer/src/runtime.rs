//! The Lambda runtime around [`crate::handle`]: what `main.rs` starts.
//!
//! [`run`] polls the Runtime API with lambda_runtime's `run_concurrent`:
//! sequential on classic Lambda, as many invocations at a time as
//! `AWS_LAMBDA_MAX_CONCURRENCY` on Lambda Managed Instances. A failed
//! invocation is logged here, with the message Lambda reports.

use chat_pipeline::destination::SinkProvider;
use lambda_runtime::layers::TracingLayer;
use lambda_runtime::{Diagnostic, Error, LambdaEvent, Runtime, service_fn};

use crate::handler::{Producer, handle};

/// Serves invocations until the runtime stops; `state` lives as long as the
/// process (the runtime's workers share it).
pub async fn run<P>(state: Producer<P>) -> Result<(), Error>
where
    P: SinkProvider + Send + Sync + 'static,
{
    let state: &'static Producer<P> = Box::leak(Box::new(state));
    let handler = service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        handle(state, event).await.map_err(|e| {
            tracing::error!(error = %e, "invocation failed");
            Diagnostic::from(e)
        })
    });
    Runtime::new(handler).layer(TracingLayer::new()).run_concurrent().await
}
