//! Runtime glue: logging, configuration, and the Lambda event loop. The sink
//! provider is built here and borrowed by every invocation; its SDK clients
//! are built on the first re-ingestion that needs one.

use chat_pipeline::destination::AwsSinks;
use lambda_runtime::layers::TracingLayer;
use lambda_runtime::{Diagnostic, Error, LambdaEvent, Runtime, service_fn};
use serde::de::IgnoredAny;
use transformer::raw_body::{RawBodies, TakeRawBody};
use transformer::{Config, Transformer, handle};

/// mimalloc, tuned in `chat_pipeline::allocator` (why: see there).
#[global_allocator]
static GLOBAL: chat_pipeline::allocator::MiMalloc = chat_pipeline::allocator::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    chat_pipeline::allocator::configure();
    chat_pipeline::logging::init();
    let config = chat_pipeline::settings::or_exit("transformer", Config::from_env(|var| std::env::var(var).ok()));
    let state = Transformer::new(config, AwsSinks::default());
    let state = &state;
    let bodies = RawBodies::default();
    let bodies = &bodies;
    // What `lambda_runtime::run` builds, plus a layer that takes the raw body
    // for the handler (see `transformer::raw_body`).
    Runtime::new(service_fn(move |event: LambdaEvent<IgnoredAny>| async move {
        let (_, context) = event.into_parts();
        let Some(body) = bodies.take(&context.request_id) else {
            return Err(Diagnostic {
                error_type: "MissingRequestBody".to_owned(),
                error_message: format!("no request body was taken for request {}", context.request_id),
            });
        };
        handle(state, LambdaEvent::new(body, context))
            .await
            .map_err(Diagnostic::from)
    }))
    .layer(TracingLayer::new())
    .layer(TakeRawBody(bodies))
    .run()
    .await
}
