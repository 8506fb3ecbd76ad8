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

-- The stack's questions over the curated table, each answering as the named
-- query of the same name (`make warehouse-test` executes them on fakesnow
-- over the lake's curated table and compares). "Now" is SYSDATE(): UTC, as
-- occurred_at. retry-copies-per-day reads the raw copies, which the curated
-- table does not hold: over the pipe's table, it is in 07_questions.sql.

-- events-per-type-and-hour
SELECT
    event_type,
    DATE_TRUNC('HOUR', occurred_at) AS hour,
    COUNT(*) AS events,
    COUNT(DISTINCT user_id) AS users
FROM chat_events_curated
WHERE occurred_at >= DATEADD(DAY, -1, SYSDATE())
GROUP BY 1, 2
ORDER BY 2, 1;

-- active-users-per-day
SELECT
    event_date,
    COUNT(DISTINCT user_id) AS active_users,
    COUNT_IF(event_type = 'send_message') AS messages
FROM chat_events_curated
WHERE occurred_at >= DATEADD(DAY, -7, SYSDATE()::DATE)
GROUP BY event_date
ORDER BY event_date;

-- events-in-the-last-hour
SELECT
    event_type,
    COUNT(*) AS events,
    MAX(received_at) AS latest_arrival
FROM chat_events_curated
WHERE occurred_at >= DATEADD(HOUR, -1, SYSDATE())
GROUP BY event_type
ORDER BY event_type;
