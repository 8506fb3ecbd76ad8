//! The emulated AWS resources of the local pipeline, created as template.yaml
//! describes them: the Kinesis data stream, the S3 bucket, and the Firehose
//! delivery streams (one reading the Kinesis stream, with the template's
//! prefixes, and one Direct PUT stream for the producer's Firehose sink).

use aws_config::SdkConfig;
use aws_sdk_firehose::types::{
    CompressionFormat, DeliveryStreamType, DynamicPartitioningConfiguration, ExtendedS3DestinationConfiguration,
    KinesisStreamSourceConfiguration,
};
use aws_sdk_kinesis::types::{StreamMode, StreamModeDetails};

use crate::emulator::{ACCOUNT, REGION, s3_client};
use crate::template::DeliverySettings;

/// Names of one local pipeline's resources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    pub stream: String,
    pub delivery_stream: String,
    pub direct_put_stream: String,
    pub bucket: String,
}

impl Names {
    /// Names with a common prefix, so several pipelines can share an emulator.
    pub fn with_prefix(prefix: &str) -> Self {
        Names {
            stream: format!("{prefix}-events"),
            delivery_stream: format!("{prefix}-delivery"),
            direct_put_stream: format!("{prefix}-direct-put"),
            bucket: format!("{prefix}-lake"),
        }
    }

    pub fn stream_arn(&self) -> String {
        format!("arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{}", self.stream)
    }

    pub fn delivery_stream_arn(&self) -> String {
        format!(
            "arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/{}",
            self.delivery_stream
        )
    }
}

/// A resource could not be created.
#[derive(Debug, thiserror::Error)]
#[error("creating {what}: {message}")]
pub struct ResourceError {
    what: String,
    message: String,
}

fn fail(what: &str) -> impl Fn(String) -> ResourceError + '_ {
    move |message| ResourceError {
        what: what.to_owned(),
        message,
    }
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    chat_pipeline::sink::describe_chain(e)
}

/// Creates every resource of the local pipeline.
pub async fn create(config: &SdkConfig, names: &Names, settings: &DeliverySettings) -> Result<(), ResourceError> {
    let kinesis = aws_sdk_kinesis::Client::new(config);
    let firehose = aws_sdk_firehose::Client::new(config);
    let s3 = s3_client(config);
    kinesis
        .create_stream()
        .stream_name(&names.stream)
        .stream_mode_details(
            StreamModeDetails::builder()
                .stream_mode(StreamMode::OnDemand)
                .build()
                .map_err(|e| fail("stream")(e.to_string()))?,
        )
        .send()
        .await
        .map_err(|e| fail("the Kinesis stream")(chain(&e)))?;
    s3.create_bucket()
        .bucket(&names.bucket)
        .send()
        .await
        .map_err(|e| fail("the S3 bucket")(chain(&e)))?;
    let role = format!("arn:aws:iam::{ACCOUNT}:role/firehose-delivery");
    let bucket_arn = format!("arn:aws:s3:::{}", names.bucket);
    let destination = |prefix: &str, error_prefix: &str, partitioned: bool| {
        ExtendedS3DestinationConfiguration::builder()
            .bucket_arn(&bucket_arn)
            .role_arn(&role)
            .prefix(prefix)
            .error_output_prefix(error_prefix)
            .compression_format(CompressionFormat::Gzip)
            .dynamic_partitioning_configuration(
                DynamicPartitioningConfiguration::builder().enabled(partitioned).build(),
            )
            .build()
            .map_err(|e| fail("the delivery stream destination")(e.to_string()))
    };
    firehose
        .create_delivery_stream()
        .delivery_stream_name(&names.delivery_stream)
        .delivery_stream_type(DeliveryStreamType::KinesisStreamAsSource)
        .kinesis_stream_source_configuration(
            KinesisStreamSourceConfiguration::builder()
                .kinesis_stream_arn(names.stream_arn())
                .role_arn(&role)
                .build()
                .map_err(|e| fail("the delivery stream source")(e.to_string()))?,
        )
        .extended_s3_destination_configuration(destination(&settings.prefix, &settings.error_output_prefix, true)?)
        .send()
        .await
        .map_err(|e| fail("the Kinesis-sourced delivery stream")(chain(&e)))?;
    firehose
        .create_delivery_stream()
        .delivery_stream_name(&names.direct_put_stream)
        .delivery_stream_type(DeliveryStreamType::DirectPut)
        .extended_s3_destination_configuration(destination("direct-put/", "direct-put-errors/", false)?)
        .send()
        .await
        .map_err(|e| fail("the Direct PUT delivery stream")(chain(&e)))?;
    Ok(())
}
