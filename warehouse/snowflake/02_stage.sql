-- Step 2 of 5: how to read the objects (NDJSON, GZIP) and where they are.
CREATE FILE FORMAT chat_events_ndjson
    TYPE = JSON
    COMPRESSION = GZIP
    STRIP_OUTER_ARRAY = FALSE;

CREATE STAGE chat_events_stage
    URL = 's3://REPLACE-WITH-BucketName/events/'
    STORAGE_INTEGRATION = chat_events_s3
    FILE_FORMAT = chat_events_ndjson;

-- Works once the role exists: lists the landed objects.
LIST @chat_events_stage;
