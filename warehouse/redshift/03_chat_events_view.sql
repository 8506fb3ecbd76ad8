-- Step 3 of 4: output schema v1 (schema/output-v1.schema.json) over the raw
-- stream, so that a query written against these columns reads the same on
-- Athena (the Glue table chat_events) and here. Every column is cast
-- explicitly; tools/check_sql.py holds the names and types to the schema.
--
-- What the transformer does and this view does not:
-- * records without an event_id get the id 'kinesis:<shard>:<sequence>'
--   here, a hash of the same position in the lake (both are stable across
--   re-reads);
-- * the transformer's full validation (ranges, id lengths, unknown event
--   types) is reduced to the filters in the WHERE clause; a record the
--   transformer sends to errors/ may still appear here if it passes them.
-- event_time is either the producer's RFC 3339 UTC time or a plain
-- ISO 8601 local time of older producers, read as UTC, as the transformer
-- does.
CREATE OR REPLACE VIEW chat_events AS
SELECT
    CAST(
        COALESCE(
            CAST(payload.event_id AS VARCHAR),
            'kinesis:' || shard_id || ':' || sequence_number
        ) AS VARCHAR(256)
    ) AS event_id,
    CAST(LOWER(CAST(payload.event_name AS VARCHAR)) AS VARCHAR(16)) AS event_type,
    CAST(payload."user" AS BIGINT) AS user_id,
    CAST(payload.session_id AS VARCHAR(256)) AS session_id,
    CAST(payload.seq AS BIGINT) AS seq,
    CAST(
        CONVERT_TIMEZONE(
            'UTC', CAST(CAST(payload.event_time AS VARCHAR) AS TIMESTAMPTZ)
        ) AS TIMESTAMP
    ) AS occurred_at,
    CAST(
        CONVERT_TIMEZONE(
            'UTC', CAST(CAST(payload.event_time AS VARCHAR) AS TIMESTAMPTZ)
        ) AS DATE
    ) AS event_date,
    CAST(approximate_arrival_timestamp AS TIMESTAMP) AS received_at,
    CAST(
        OBJECT(
            'shard_id', shard_id,
            'sequence_number', sequence_number,
            'partition_key', partition_key
        ) AS SUPER
    ) AS source,
    CAST(1 AS INTEGER) AS schema_version,
    CAST(TO_CHAR(approximate_arrival_timestamp, 'YYYY-MM-DD') AS VARCHAR(10)) AS dt
FROM chat_events_stream
WHERE
    LOWER(CAST(payload.event_name AS VARCHAR))
    IN ('join', 'leave', 'open_chat', 'subscribe', 'send_message')
    -- IS_BIGINT: the schema's user is any 64-bit integer; IS_INTEGER is
    -- true in the 32-bit range only (Redshift Database Developer Guide,
    -- IS_INTEGER, IS_BIGINT), and users from 2^31 up would vanish.
    AND IS_BIGINT(payload."user")
    AND REGEXP_INSTR(
        CAST(payload.event_time AS VARCHAR),
        '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}'
    ) = 1;
