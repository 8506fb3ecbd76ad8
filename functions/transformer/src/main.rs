//! Runtime glue: logging, configuration, and the Lambda event loop. No SDK
//! client is built here; re-ingestion builds them on first use.

use lambda_runtime::{Error, service_fn};
use transformer::reingest::AwsSinks;
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
    lambda_runtime::run(service_fn(move |event| handle(state, event))).await
}
