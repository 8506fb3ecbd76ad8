//! Runtime glue: the allocator, logging, configuration, and the Lambda
//! runtime (`producer::runtime`). SDK clients are built on the first
//! invocation that needs one, then reused for the life of the container.

use chat_pipeline::destination::AwsSinks;
use producer::{Config, Producer};

/// mimalloc, tuned in `chat_pipeline::allocator` (why: see there).
#[global_allocator]
static GLOBAL: chat_pipeline::allocator::MiMalloc = chat_pipeline::allocator::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    chat_pipeline::bootstrap::answer_help("producer", producer::ABOUT);
    chat_pipeline::bootstrap::require_lambda_environment("producer");
    chat_pipeline::allocator::configure();
    chat_pipeline::logging::init();
    let config = chat_pipeline::settings::or_exit("producer", Config::from_env(|var| std::env::var(var).ok()));
    producer::runtime::run(Producer::new(config, AwsSinks::default())).await
}
