-- Snowflake over the S3 lake with Snowpipe, step 1 of 5: the storage
-- integration (run as ACCOUNTADMIN). The order of steps matters; README,
-- "Snowflake", has them with the stack updates in between.
--
-- STORAGE_AWS_ROLE_ARN: the stack output SnowflakeStorageRoleArn (the role is
-- created later, once DESC INTEGRATION below has printed the values its
-- trust policy needs). STORAGE_ALLOWED_LOCATIONS: the stack output
-- BucketName. Snowflake docs: "Configuring a Snowflake storage integration
-- to access Amazon S3".
CREATE STORAGE INTEGRATION chat_events_s3
    TYPE = EXTERNAL_STAGE
    STORAGE_PROVIDER = 'S3'
    ENABLED = TRUE
    STORAGE_AWS_ROLE_ARN = 'arn:aws:iam::123456789012:role/REPLACE-WITH-StackName-snowflake-s3'
    STORAGE_ALLOWED_LOCATIONS = ('s3://REPLACE-WITH-BucketName/events/');

-- Copy STORAGE_AWS_IAM_USER_ARN and STORAGE_AWS_EXTERNAL_ID into the stack
-- parameters SnowflakeIamUserArn and SnowflakeExternalId, and deploy.
DESC INTEGRATION chat_events_s3;
