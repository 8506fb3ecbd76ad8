-- Step 4 of 5: the pipe. AUTO_INGEST = TRUE: S3 event notifications on
-- events/ (the stack parameter SnowpipeQueueArn) tell it about new objects.
-- Snowpipe loads a file once: it remembers loaded file names per pipe
-- (14 days of load history), so a notification repeated for the same object
-- loads nothing twice. It does not de-duplicate events: a retry copy of an
-- event arrives in another file and lands as another row (step 5).
CREATE PIPE chat_events_pipe
    AUTO_INGEST = TRUE
AS
COPY INTO chat_events (
    event_id, event_type, user_id, session_id, seq, occurred_at, event_date,
    received_at, source, schema_version, dt, raw, file_name, loaded_at
)
FROM (
    SELECT
        $1:event_id::VARCHAR(256),
        $1:event_type::VARCHAR(16),
        $1:user_id::NUMBER(19, 0),
        $1:session_id::VARCHAR(256),
        $1:seq::NUMBER(19, 0),
        $1:occurred_at::TIMESTAMP_NTZ(3),
        $1:event_date::DATE,
        $1:received_at::TIMESTAMP_NTZ(3),
        $1:source::OBJECT,
        $1:schema_version::NUMBER(3, 0),
        SPLIT_PART(SPLIT_PART(METADATA$FILENAME, 'dt=', 2), '/', 1),
        $1,
        METADATA$FILENAME,
        METADATA$START_SCAN_TIME
    FROM @chat_events_stage
)
FILE_FORMAT = (FORMAT_NAME = 'chat_events_ndjson');

-- notification_channel is the SQS queue ARN for the stack parameter
-- SnowpipeQueueArn; deploy, and new objects load within minutes.
SHOW PIPES LIKE 'CHAT_EVENTS_PIPE';

-- Files staged before the notification was in place (or missed): queue the
-- last 7 days' files; the pipe's load history skips those already loaded.
ALTER PIPE chat_events_pipe REFRESH;
