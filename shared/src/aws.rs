//! AWS SDK clients, built lazily and once per container.
//!
//! Loading the SDK configuration costs tens of milliseconds (it reads the
//! environment, profile files and the credential chain), so nothing here runs
//! at start-up: the first call that needs a client pays for it, and every later
//! call reuses it. `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_KINESIS` and
//! `AWS_ENDPOINT_URL_FIREHOSE` are honoured (aws-config reads them), which is
//! how the emulator is reached.
//!
//! The SDK's own retries are turned off: [`crate::delivery`] is the single
//! retry policy, so `MAX_ATTEMPTS` and the Lambda deadline bound every call.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use tokio::sync::OnceCell;

/// Clients for the two destinations, each created on first use.
#[derive(Debug, Default)]
pub struct LazyClients {
    config: OnceCell<SdkConfig>,
    kinesis: OnceCell<aws_sdk_kinesis::Client>,
    firehose: OnceCell<aws_sdk_firehose::Client>,
}

impl LazyClients {
    /// Nothing is built until a client is asked for.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pre-built clients (tests pass `aws-smithy-mocks` clients here).
    pub fn with_clients(kinesis: Option<aws_sdk_kinesis::Client>, firehose: Option<aws_sdk_firehose::Client>) -> Self {
        LazyClients {
            config: OnceCell::new(),
            kinesis: OnceCell::new_with(kinesis),
            firehose: OnceCell::new_with(firehose),
        }
    }

    async fn config(&self) -> &SdkConfig {
        self.config.get_or_init(load_config).await
    }

    /// The Kinesis client.
    pub async fn kinesis(&self) -> aws_sdk_kinesis::Client {
        self.kinesis
            .get_or_init(|| async { aws_sdk_kinesis::Client::new(self.config().await) })
            .await
            .clone()
    }

    /// The Firehose client.
    pub async fn firehose(&self) -> aws_sdk_firehose::Client {
        self.firehose
            .get_or_init(|| async { aws_sdk_firehose::Client::new(self.config().await) })
            .await
            .clone()
    }

    /// True once any client exists (for tests of laziness).
    #[cfg(any(test, feature = "test-util"))]
    pub fn any_built(&self) -> bool {
        self.config.initialized() || self.kinesis.initialized() || self.firehose.initialized()
    }
}

async fn load_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(10))
                .build(),
        )
        .load()
        .await
}
