//! One local pipeline, set up once: the emulator started, the delivery
//! settings read from template.yaml, the resources named and created as the
//! template describes them. The demo, replay, the load run and every test
//! that needs the pipeline start here, and take from it what they drive it
//! with: SDK clients, the producer and transformer pointed at the emulator,
//! and the Firehose stand-in.

use aws_config::SdkConfig;
use chat_pipeline::destination::DestinationKind;

use crate::emulator::{Emulator, EmulatorError, EmulatorOptions, s3_client};
use crate::local_firehose::{InProcess, Invoker, LocalFirehose};
use crate::resources::{self, Names, ResourceError};
use crate::scenario;
use crate::template::{DeliverySettings, Template, TemplateError};

/// The local pipeline could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Emulator(#[from] EmulatorError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Resources(#[from] ResourceError),
}

/// A running local pipeline: the emulator (stopped when this is dropped),
/// SDK configuration pointing at it, the delivery settings of template.yaml
/// and the names of the resources created in it.
pub struct LocalPipeline {
    pub emulator: Emulator,
    pub config: SdkConfig,
    pub settings: DeliverySettings,
    pub names: Names,
}

impl LocalPipeline {
    /// Starts the emulator and creates the resources, named with `prefix`.
    pub async fn start(prefix: &str) -> Result<Self, PipelineError> {
        Self::start_with(prefix, &EmulatorOptions::default()).await
    }

    /// As [`LocalPipeline::start`], the emulator run with `options`.
    pub async fn start_with(prefix: &str, options: &EmulatorOptions) -> Result<Self, PipelineError> {
        let settings = Template::repository()?.delivery_settings()?;
        let emulator = Emulator::start_with(options).await?;
        let config = emulator.sdk_config().await;
        let names = Names::with_prefix(prefix);
        resources::create(&config, &names, &settings).await?;
        Ok(LocalPipeline {
            emulator,
            config,
            settings,
            names,
        })
    }

    /// The pipeline for a test; panics with instructions when it cannot be
    /// set up (tests that need it are `#[ignore]`d, and `make test` runs them).
    pub async fn for_tests(prefix: &str) -> Self {
        Self::start(prefix).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// An S3 client for the lake's bucket.
    pub fn s3(&self) -> aws_sdk_s3::Client {
        s3_client(&self.config)
    }

    /// A Kinesis client for the stream.
    pub fn kinesis(&self) -> aws_sdk_kinesis::Client {
        aws_sdk_kinesis::Client::new(&self.config)
    }

    /// The producer, delivering to `sink` (the stream or the Direct PUT
    /// delivery stream), `events` a tick.
    pub fn producer(&self, sink: DestinationKind, events: u64) -> producer::Producer {
        scenario::producer(&self.config, &self.names, sink, events)
    }

    /// The transformer's state, its re-ingestion pointed at the emulator.
    pub fn transformer(&self) -> transformer::Transformer {
        scenario::transformer(&self.config)
    }

    /// The Firehose stand-in for the Kinesis-sourced delivery stream,
    /// invoking the transformer through `invoker`.
    pub fn firehose<I: Invoker>(&self, invoker: I) -> LocalFirehose<I> {
        LocalFirehose::new(&self.config, self.names.clone(), self.settings.clone(), invoker)
    }

    /// The Firehose stand-in invoking the transformer in this process.
    pub fn firehose_in_process(&self) -> LocalFirehose<InProcess> {
        self.firehose(InProcess {
            state: self.transformer(),
        })
    }

    /// The environment a function process needs to reach the emulator.
    pub fn function_env(&self) -> Vec<(String, String)> {
        self.emulator.function_env()
    }
}
