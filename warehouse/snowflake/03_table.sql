-- Step 3 of 5: output schema v1's typed columns (schema/output-v1.schema.json;
-- chat_tools.checks.sql holds them to it), the arrival day dt from the object's
-- key, and what Snowpipe adds: the raw line as VARIANT and the file it came
-- from.
CREATE TABLE chat_events (
    event_id VARCHAR(256) NOT NULL,
    event_type VARCHAR(16) NOT NULL,
    user_id NUMBER(19, 0) NOT NULL,
    session_id VARCHAR(256),
    seq NUMBER(19, 0),
    occurred_at TIMESTAMP_NTZ(3) NOT NULL,
    event_date DATE NOT NULL,
    received_at TIMESTAMP_NTZ(3) NOT NULL,
    source OBJECT,
    schema_version NUMBER(3, 0) NOT NULL,
    dt VARCHAR(10) NOT NULL,
    raw VARIANT NOT NULL,
    file_name VARCHAR NOT NULL,
    -- When Snowpipe began scanning the file, set by the pipe (step 4): the
    -- CREATE PIPE documentation warns that CURRENT_TIMESTAMP-family values
    -- in Snowpipe loads can be earlier than the load, and recommends
    -- METADATA$START_SCAN_TIME.
    loaded_at TIMESTAMP_LTZ
);
