//! Runtime glue: logging, configuration, and the Lambda event loop. SDK
//! clients are built on the first invocation that needs one, then reused for
//! the life of the container.

use chat_pipeline::aws::LazyClients;
use lambda_runtime::{Error, service_fn};
use producer::handler::Sinks;
use producer::{Config, Producer, handle};

/// mimalloc, tuned in `chat_pipeline::allocator` (why: see there).
#[global_allocator]
static GLOBAL: chat_pipeline::allocator::MiMalloc = chat_pipeline::allocator::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    chat_pipeline::allocator::configure();
    chat_pipeline::logging::init();
    let config = chat_pipeline::settings::or_exit("producer", Config::from_env(|var| std::env::var(var).ok()));
    let state = Producer::new(config, Sinks::Aws(Box::new(LazyClients::new())));
    let state = &state;
    lambda_runtime::run(service_fn(move |event| handle(state, event))).await
}
