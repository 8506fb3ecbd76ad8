-- Redshift Serverless streaming ingestion, step 1 of 4: map the Kinesis
-- stream into Redshift. Needs the stack with SourceType=KinesisStream and
-- RedshiftStreamingIngestion=Enabled; run as the admin (Query Editor v2) or
-- with `aws redshift-data execute-statement` (README, "Redshift").
--
-- IAM_ROLE default is the namespace's default role, RedshiftStreamingRole,
-- which may read only this stack's stream (template.yaml).
-- Redshift Developer Guide: "Getting started with streaming ingestion from
-- Amazon Kinesis Data Streams", CREATE EXTERNAL SCHEMA ... FROM KINESIS.
CREATE EXTERNAL SCHEMA chat_stream
FROM KINESIS
IAM_ROLE DEFAULT;
