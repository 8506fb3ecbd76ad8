-- Snowflake over the curated Iceberg table (chat_events_curated), one row per
-- event, read in place: Snowflake reads the table's metadata through a
-- catalog integration with AWS Glue and its files through an external volume
-- (Snowflake docs, "Configure a catalog integration for AWS Glue", "Configure
-- an external volume for Amazon S3", "CREATE ICEBERG TABLE (AWS Glue as the
-- Iceberg catalog)"). The curation writes no delete files (insert-only),
-- which Snowflake's Iceberg reader needs: it refuses equality deletes.
--
-- Run as ACCOUNTADMIN. Role: the stack output SnowflakeIcebergRoleArn;
-- catalog id: the AWS account; namespace: the stack output GlueDatabase;
-- bucket: the stack output BucketName.
CREATE CATALOG INTEGRATION chat_glue_catalog
    CATALOG_SOURCE = GLUE
    CATALOG_NAMESPACE = 'chat_pipeline_staging'
    TABLE_FORMAT = ICEBERG
    GLUE_AWS_ROLE_ARN = 'arn:aws:iam::123456789012:role/REPLACE-WITH-StackName-snowflake-iceberg'
    GLUE_CATALOG_ID = '123456789012'
    GLUE_REGION = 'us-east-1'
    ENABLED = TRUE;

CREATE EXTERNAL VOLUME chat_curated_volume
    STORAGE_LOCATIONS = (
        (
            NAME = 'chat-curated'
            STORAGE_PROVIDER = 'S3'
            STORAGE_BASE_URL = 's3://REPLACE-WITH-BucketName/curated/'
            STORAGE_AWS_ROLE_ARN = 'arn:aws:iam::123456789012:role/REPLACE-WITH-StackName-snowflake-iceberg'
        )
    )
    ALLOW_WRITES = FALSE;

-- Now run DESC CATALOG INTEGRATION chat_glue_catalog and DESC EXTERNAL
-- VOLUME chat_curated_volume (kept out of this file: sqlfluff 4.5 has no
-- grammar for them), copy GLUE_AWS_EXTERNAL_ID and STORAGE_AWS_EXTERNAL_ID
-- into the stack parameter SnowflakeIcebergExternalIds (comma-separated;
-- SnowflakeIamUserArn is the IAM user both print), and deploy: that creates
-- the role. Then:

-- The table, read from Glue's current metadata; AUTO_REFRESH follows new
-- snapshots (each curation run commits one).
CREATE ICEBERG TABLE chat_events_curated
    EXTERNAL_VOLUME = 'chat_curated_volume'
    CATALOG = 'chat_glue_catalog'
    CATALOG_TABLE_NAME = 'chat_events_curated'
    AUTO_REFRESH = TRUE;

-- The questions (07_questions.sql) read chat_events_unique: over the curated
-- table, this one (over the pipe's table, the one in
-- 05_deduplicated_view.sql).
CREATE OR REPLACE VIEW chat_events_unique AS
SELECT event_id, event_type, user_id, session_id, seq, occurred_at, event_date, received_at, source, schema_version
FROM chat_events_curated;
