-- Step 2 of 4: the streaming materialized view. Each refresh reads what the
-- stream received since the last one and appends it; AUTO REFRESH YES lets
-- Redshift schedule refreshes itself, with no guaranteed latency (it defers
-- them under load; REFRESH MATERIALIZED VIEW chat_events_stream forces one).
-- The stream keeps records 24 hours: a view left unrefreshed longer than that
-- misses records (they are still in the S3 lake).
--
-- The raw record stays as SUPER (payload) beside the Kinesis metadata;
-- records that are not JSON are skipped by CAN_JSON_PARSE instead of failing
-- the refresh. Errors of the refresh itself show in SYS_STREAM_SCAN_ERRORS.
-- A record that starts with a UTF-8 byte-order mark (EF BB BF), which the
-- transformer accepts, is parsed without it (VARBYTE SUBSTRING and
-- FROM_HEX: Redshift Database Developer Guide, "VARBYTE functions").
--
-- Replace REPLACE-WITH-StreamName with the stack output StreamName (Kinesis
-- stream names are case sensitive, hence the quotes).
CREATE MATERIALIZED VIEW chat_events_stream
AUTO REFRESH YES
AS
SELECT
    approximate_arrival_timestamp,
    partition_key,
    shard_id,
    sequence_number,
    refresh_time,
    JSON_PARSE(
        CASE
            WHEN SUBSTRING(kinesis_data, 1, 3) = FROM_HEX('EFBBBF')
                THEN SUBSTRING(kinesis_data, 4, OCTET_LENGTH(kinesis_data) - 3)
            ELSE kinesis_data
        END
    ) AS payload
FROM chat_stream."REPLACE-WITH-StreamName"
WHERE
    CAN_JSON_PARSE(
        CASE
            WHEN SUBSTRING(kinesis_data, 1, 3) = FROM_HEX('EFBBBF')
                THEN SUBSTRING(kinesis_data, 4, OCTET_LENGTH(kinesis_data) - 3)
            ELSE kinesis_data
        END
    );
