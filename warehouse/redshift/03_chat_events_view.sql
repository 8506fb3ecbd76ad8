-- Step 3 of 4: output schema v1 (schema/output-v1.schema.json) over the raw
-- stream, so that a query written against these columns reads the same on
-- Athena (the Glue table chat_events) and here. Every column is cast
-- explicitly; chat_tools.checks.sql holds the names and types to the schema.
--
-- It accepts what the transformer accepts (shared/src/input/validate.rs),
-- field by field, and drops what the transformer refuses; make
-- warehouse-test holds the two together over the golden samples and
-- events/transformer/edge-cases.json, and docs/warehouses.md lists the
-- differences it counts (records without an event_id get the id
-- 'kinesis:<shard>:<sequence>' here, a hash of the same position in the
-- lake; both are stable across re-reads). A refused record leaves no row and
-- no SYS_STREAM_SCAN_ERRORS entry: the transformer's own errors/ prefix and
-- metrics are where refusals are counted.
--
-- * user: a JSON integer from 0 to 2^63-1 (IS_BIGINT; IS_INTEGER is true in
--   the 32-bit range only: Redshift Database Developer Guide, IS_INTEGER,
--   IS_BIGINT), or a string of up to 19 decimal digits in that range;
-- * event_time: epoch milliseconds (a JSON number from 10^11, the
--   transformer's guard against seconds; a fraction is truncated), or an
--   ISO 8601 date-time with 'T', 't' or a space, '.' or ',' before the
--   fraction, and 'Z', an offset (+01:30, -0200, +02; at most 23:59) or
--   none (read as UTC, whatever the session's time zone); hours 00-23,
--   seconds 00-59 (no 24:00, no leap second, as the transformer); kept to
--   the millisecond, as the lake keeps it. TRY_CAST turns an impossible date (30 February) into NULL, so
--   the row is dropped instead of failing every query of the view;
-- * event_id, session_id: absent, null, or a string of 1 to 256 bytes;
--   seq: absent, null, or an integer from 0; schema_version: absent, null
--   or 1.
CREATE OR REPLACE VIEW chat_events AS
SELECT
    CAST(event_id AS VARCHAR(256)) AS event_id,
    CAST(event_type AS VARCHAR(16)) AS event_type,
    CAST(user_id AS BIGINT) AS user_id,
    CAST(session_id AS VARCHAR(256)) AS session_id,
    CAST(seq AS BIGINT) AS seq,
    CAST(occurred_at AS TIMESTAMP) AS occurred_at,
    CAST(occurred_at AS DATE) AS event_date,
    CAST(received_at AS TIMESTAMP) AS received_at,
    CAST(source AS SUPER) AS source,
    CAST(schema_version AS INTEGER) AS schema_version,
    CAST(dt AS VARCHAR(10)) AS dt
FROM (
    SELECT
        COALESCE(
            CAST(payload.event_id AS VARCHAR),
            'kinesis:' || shard_id || ':' || sequence_number
        ) AS event_id,
        LOWER(CAST(payload.event_name AS VARCHAR)) AS event_type,
        CASE
            WHEN IS_BIGINT(payload."user") THEN CAST(payload."user" AS BIGINT)
            WHEN
                IS_VARCHAR(payload."user")
                AND REGEXP_INSTR(CAST(payload."user" AS VARCHAR), '^[0-9]{1,19}$') = 1
                THEN TRY_CAST(CAST(payload."user" AS VARCHAR) AS BIGINT)
        END AS user_id,
        CAST(payload.session_id AS VARCHAR) AS session_id,
        CASE WHEN IS_BIGINT(payload.seq) THEN CAST(payload.seq AS BIGINT) END AS seq,
        DATE_TRUNC(
            'milliseconds',
            CASE
                WHEN
                    IS_NUMBER(payload.event_time)
                    AND CAST(payload.event_time AS FLOAT8) >= 100000000000
                    AND CAST(payload.event_time AS FLOAT8) < 253402300800000
                    THEN TIMESTAMP 'epoch'
                    + CAST(FLOOR(CAST(payload.event_time AS FLOAT8)) AS BIGINT)
                    * INTERVAL '1 millisecond'
                WHEN
                    IS_VARCHAR(payload.event_time)
                    AND REGEXP_INSTR(
                        CAST(payload.event_time AS VARCHAR),
                        '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.,][0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?$'
                    ) = 1
                    THEN CONVERT_TIMEZONE(
                        'UTC',
                        TRY_CAST(
                            REPLACE(UPPER(CAST(payload.event_time AS VARCHAR)), ',', '.')
                            || CASE
                                WHEN
                                    REGEXP_INSTR(
                                        CAST(payload.event_time AS VARCHAR), '([Zz]|[+-][0-9:]+)$'
                                    ) = 0
                                    THEN '+00:00'
                                ELSE ''
                            END
                            AS TIMESTAMPTZ
                        )
                    )
            END
        ) AS occurred_at,
        approximate_arrival_timestamp AS received_at,
        OBJECT(
            'shard_id', shard_id,
            'sequence_number', sequence_number,
            'partition_key', partition_key
        ) AS source,
        1 AS schema_version,
        TO_CHAR(approximate_arrival_timestamp, 'YYYY-MM-DD') AS dt,
        IS_VARCHAR(payload.event_name) AS name_is_text,
        payload.event_id IS NULL
        OR (
            IS_VARCHAR(payload.event_id)
            AND OCTET_LENGTH(CAST(payload.event_id AS VARCHAR)) BETWEEN 1 AND 256
        ) AS event_id_ok,
        payload.session_id IS NULL
        OR (
            IS_VARCHAR(payload.session_id)
            AND OCTET_LENGTH(CAST(payload.session_id AS VARCHAR)) BETWEEN 1 AND 256
        ) AS session_id_ok,
        payload.seq IS NULL OR (IS_BIGINT(payload.seq) AND CAST(payload.seq AS BIGINT) >= 0) AS seq_ok,
        payload.schema_version IS NULL
        OR (IS_BIGINT(payload.schema_version) AND CAST(payload.schema_version AS BIGINT) = 1)
        AS schema_version_ok
    FROM chat_events_stream
) AS parsed
WHERE
    name_is_text
    AND event_type IN ('join', 'leave', 'open_chat', 'subscribe', 'send_message')
    AND user_id >= 0
    AND occurred_at >= TIMESTAMP '1970-01-01 00:00:00'
    AND event_id_ok
    AND session_id_ok
    AND seq_ok
    AND schema_version_ok;
