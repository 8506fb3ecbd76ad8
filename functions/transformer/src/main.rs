//! Runtime glue: the allocator, logging, configuration, and the Lambda
//! runtime (`transformer::runtime`). The sink provider's SDK clients are
//! built on the first re-ingestion that needs one.

use chat_pipeline::destination::AwsSinks;
use transformer::{Config, Transformer};

/// mimalloc, tuned in `chat_pipeline::allocator` (why: see there).
#[global_allocator]
static GLOBAL: chat_pipeline::allocator::MiMalloc = chat_pipeline::allocator::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    chat_pipeline::bootstrap::answer_help("transformer", transformer::ABOUT);
    chat_pipeline::bootstrap::require_lambda_environment("transformer");
    chat_pipeline::allocator::configure();
    chat_pipeline::logging::init();
    let config = chat_pipeline::settings::or_exit("transformer", Config::from_env(|var| std::env::var(var).ok()));
    transformer::runtime::run(Transformer::new(config, AwsSinks::default())).await
}
