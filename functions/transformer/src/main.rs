//! Runtime glue: logging, configuration, and the Lambda event loop. The sink
//! provider is built here and borrowed by every invocation; its SDK clients
//! are built on the first re-ingestion that needs one.

use chat_pipeline::destination::AwsSinks;
use lambda_runtime::layers::TracingLayer;
use lambda_runtime::{Error, Runtime, service_fn};
use transformer::byte_order_mark::StripByteOrderMark;
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
    // What `lambda_runtime::run` builds, plus the byte-order-mark layer,
    // which sees the raw body first.
    Runtime::new(service_fn(move |event| handle(state, event)))
        .layer(TracingLayer::new())
        .layer(StripByteOrderMark)
        .run()
        .await
}
