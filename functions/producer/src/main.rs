//! Runtime glue: logging, configuration, and the Lambda event loop. SDK
//! clients are built on the first invocation that needs one, then reused for
//! the life of the container.

use chat_pipeline::destination::AwsSinks;
use lambda_runtime::{Error, service_fn};
use producer::{Config, Producer, handle};

/// mimalloc, tuned in `chat_pipeline::allocator` (why: see there).
#[global_allocator]
static GLOBAL: chat_pipeline::allocator::MiMalloc = chat_pipeline::allocator::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    chat_pipeline::allocator::configure();
    chat_pipeline::logging::init();
    let config = chat_pipeline::settings::or_exit("producer", Config::from_env(|var| std::env::var(var).ok()));
    // SDK clients are built lazily by AwsSinks, on the first invocation that
    // needs one, then reused.
    let state = Producer::new(config, AwsSinks::default());
    let state = &state;
    lambda_runtime::run(service_fn(move |event| handle(state, event))).await
}
