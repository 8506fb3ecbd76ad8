"""What chat_tools.stack.deploy asserts about a stack MiniStack created, read
back through the services' own APIs: the wiring of every stage, exact IAM
grants against the calls the code makes, the curation workflow, the alarms
and the dashboard, the saved queries, and the optional Snowflake and
Redshift resources. One `check_*` function per group; each prints one line
per check through chat_tools.checks.report.
"""

from __future__ import annotations

import json
import re
import urllib.parse

from chat_tools.checks.report import Checks
from chat_tools.paths import REPO
from chat_tools.stack.ministack import ACCOUNT, REGION, deploy, leave_out, physical

# The SDK calls the code makes, per function and source (shared/src/sink/*.rs,
# functions/transformer/src/reingest.rs): what each role must grant, exactly.
PRODUCER_CALLS = {"KinesisStream": {"kinesis:PutRecords"}, "DirectPut": {"firehose:PutRecordBatch"}}


TRANSFORMER_CALLS = PRODUCER_CALLS


# The replay command puts records where the producer puts them (a
# Kinesis-sourced delivery stream refuses PutRecordBatch).
REPLAY_CALLS = {
    "KinesisStream": lambda stream, delivery: {"kinesis:PutRecords": stream},
    "DirectPut": lambda stream, delivery: {"firehose:PutRecordBatch": delivery},
}


# Firehose's error record (Firehose Developer Guide, "Handle failure in data
# transformation"), as the Glue table's lower-cased columns.
FIREHOSE_ERROR_RECORD = [
    ("attemptsmade", "int"),
    ("arrivaltimestamp", "bigint"),
    ("errorcode", "string"),
    ("errormessage", "string"),
    ("attemptendingtimestamp", "bigint"),
    ("rawdata", "string"),
    ("lambdaarn", "string"),
]


FIREHOSE_READS = {
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetShardIterator",
    "kinesis:GetRecords",
    "kinesis:ListShards",
}


def role_grants(iam, role_name: str) -> dict[str, set[str]]:
    """Action -> resources of a role's inline policies (managed policies,
    e.g. AWSLambdaBasicExecutionRole's logs, are SAM's and left aside)."""
    grants: dict[str, set[str]] = {}
    for policy in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role_name, PolicyName=policy)["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(document)
        statements = document["Statement"]
        for st in statements if isinstance(statements, list) else [statements]:
            if st.get("Effect") != "Allow":
                continue
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
            for a in actions:
                grants.setdefault(a, set()).update(resources)
    return grants


def managed_policy_grants(iam, arn: str) -> dict[str, set[tuple[str, str | None]]]:
    """Action -> (resource, s3:prefix condition) of a managed policy's
    default version."""
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    document = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]["Document"]
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))
    grants: dict[str, set[tuple[str, str | None]]] = {}
    statements = document["Statement"]
    for st in statements if isinstance(statements, list) else [statements]:
        if st.get("Effect") != "Allow":
            continue
        prefixes = st.get("Condition", {}).get("StringLike", {}).get("s3:prefix")
        prefixes = prefixes if isinstance(prefixes, list) else [prefixes]
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        for a in actions:
            grants.setdefault(a, set()).update((r, prefix) for r in resources for prefix in prefixes)
    return grants


def trust_statements(role: dict) -> list:
    """The statements of a role's trust policy (IAM returns it URL-encoded
    when it is a string)."""
    trust = role["AssumeRolePolicyDocument"]
    if isinstance(trust, str):
        trust = json.loads(urllib.parse.unquote(trust))
    return trust["Statement"]


def role_name_of(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def prefix_to_location(prefix: str) -> str:
    """Firehose's `!{partitionKeyFromLambda:k}` as projection's `${k}`."""
    out, rest = "", prefix
    while "!{partitionKeyFromLambda:" in rest:
        head, tail = rest.split("!{partitionKeyFromLambda:", 1)
        key, rest = tail.split("}", 1)
        out += f"{head}${{{key}}}"
    return out + rest


def check_stack(c: Checks, aws, stack: dict, source: str, template: dict):
    name = stack["StackName"]
    print(f"\n{name} (SourceType={source})")
    c.equal("stack created", stack["StackStatus"], "CREATE_COMPLETE")
    not_complete = {k: r["ResourceStatus"] for k, r in stack["resources"].items() if r["ResourceStatus"] != "CREATE_COMPLETE"}
    c.check("every resource created", not not_complete, str(not_complete))

    lam, firehose, glue, iam = aws("lambda"), aws("firehose"), aws("glue"), aws("iam")
    kinesis, s3, cw, sns, kms, sqs = aws("kinesis"), aws("s3"), aws("cloudwatch"), aws("sns"), aws("kms"), aws("sqs")

    bucket = physical(stack, "DataBucket")
    delivery_name = physical(stack, "DeliveryStream")
    delivery = firehose.describe_delivery_stream(DeliveryStreamName=delivery_name)["DeliveryStreamDescription"]
    delivery_arn = delivery["DeliveryStreamARN"]
    transformer = lam.get_function(FunctionName=physical(stack, "TransformerFunction"))["Configuration"]
    producer = lam.get_function(FunctionName=physical(stack, "ProducerFunction"))["Configuration"]
    stream_name = physical(stack, "EventStream") if source == "KinesisStream" else None
    stream_arn = (
        kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]["StreamARN"]
        if stream_name
        else None
    )

    # Delivery stream: type, source, processor, partitioning.
    c.equal("delivery stream type", delivery["DeliveryStreamType"], "KinesisStreamAsSource" if source == "KinesisStream" else "DirectPut")
    if stream_arn:
        c.equal(
            "delivery stream reads the stack's stream",
            delivery.get("Source", {}).get("KinesisStreamSourceDescription", {}).get("KinesisStreamARN"),
            stream_arn,
        )
        summary = kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]
        c.equal("stream capacity mode", summary["StreamModeDetails"]["StreamMode"], "PROVISIONED")
        c.equal("stream shards", summary.get("OpenShardCount"), 1)
        c.equal("stream retention (bounds the arrival days in one buffer)", summary["RetentionPeriodHours"], 24)
    dest = delivery["Destinations"][0]["ExtendedS3DestinationDescription"]
    processors = {p["Type"]: p for p in dest["ProcessingConfiguration"]["Processors"]}
    params = {p["ParameterName"]: p["ParameterValue"] for p in processors["Lambda"]["Parameters"]}
    c.equal("processor is the transformer", params.get("LambdaArn"), transformer["FunctionArn"])
    # Packed records are split before the transformer (PackEvents defaults
    # to Enabled): Delimited on a newline.
    split = {p["ParameterName"]: p["ParameterValue"] for p in processors.get("RecordDeAggregation", {}).get("Parameters", [])}
    c.equal("packed records de-aggregated before the transformer (Delimited, newline)",
            (split.get("SubRecordType"), split.get("Delimiter")), ("DELIMITED", "Cg=="))
    template_lambda = next(
        p for p in template["Resources"]["DeliveryStream"]["Properties"]["ExtendedS3DestinationConfiguration"][
            "ProcessingConfiguration"]["Processors"] if isinstance(p, dict) and p.get("Type") == "Lambda")
    template_params = {p["ParameterName"]: p["ParameterValue"] for p in template_lambda["Parameters"]}
    c.equal("processor buffer is the template's", params.get("BufferSizeInMBs"), template_params["BufferSizeInMBs"])
    c.equal("dynamic partitioning enabled", dest.get("DynamicPartitioningConfiguration", {}).get("Enabled"), True)
    c.equal("delivery bucket", dest["BucketARN"], f"arn:aws:s3:::{bucket}")
    c.check("objects GZIP", dest.get("CompressionFormat") == "GZIP", dest.get("CompressionFormat", ""))

    # Glue: location and projection match the bucket and the Prefix.
    database = physical(stack, "EventsDatabase")
    # GlueDatabaseName when given; else chat_pipeline_ and the stack id's
    # first 8 hex digits: lower case either way (Glue folds names).
    stack_id = aws("cloudformation").describe_stacks(StackName=name)["Stacks"][0]["StackId"]
    given = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}.get("GlueDatabaseName") or ""
    c.equal("Glue database named by GlueDatabaseName, or chat_pipeline_<the stack id's first 8 hex digits>", database,
            given or "chat_pipeline_" + stack_id.split("/")[2].split("-")[0])
    c.check("Glue database name is lower case", database == database.lower(), database)
    table = glue.get_table(DatabaseName=database, Name="chat_events")["Table"]
    sd = table["StorageDescriptor"]
    tparams = table["Parameters"]
    c.equal("table location is the bucket's events/", sd["Location"], f"s3://{bucket}/events/")
    c.equal(
        "projection template is the delivery stream's Prefix",
        tparams.get("storage.location.template"),
        f"s3://{bucket}/{prefix_to_location(dest['Prefix'])}",
    )
    c.equal("partition columns", [k["Name"] for k in table["PartitionKeys"]], ["event_type", "dt"])
    lake_start = template["Parameters"]["LakeStartDate"]["Default"]
    c.equal("dt projection: a date from LakeStartDate to NOW", (tparams.get("projection.dt.type"), tparams.get("projection.dt.range")), ("date", f"{lake_start},NOW"))
    c.equal("Hive JSON SerDe", sd["SerdeInfo"]["SerializationLibrary"], "org.apache.hive.hcatalog.data.JsonSerDe")
    c.equal("timestamp format", sd["SerdeInfo"].get("Parameters", {}).get("timestamp.formats"), "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")
    types = {col["Name"]: col["Type"] for col in sd["Columns"]}
    c.equal("column types", (types.get("occurred_at"), types.get("received_at"), types.get("user_id"), types.get("seq")), ("timestamp", "timestamp", "bigint", "bigint"))

    # The failed-records table reads exactly where Firehose writes failed records.
    failed = glue.get_table(DatabaseName=database, Name="chat_events_failed")["Table"]
    fparams = failed["Parameters"]
    error_location = (
        dest["ErrorOutputPrefix"]
        .replace("!{firehose:error-output-type}", "${error_type}")
        .replace("!{timestamp:yyyy-MM-dd}", "${dt}")
    )
    c.equal("failed-records table location is the error prefix",
            failed["StorageDescriptor"]["Location"], f"s3://{bucket}/errors/")
    c.equal("failed-records error_type projection: Firehose's two error types of this stream",
            (fparams.get("projection.error_type.type"), fparams.get("projection.error_type.values")),
            ("enum", "processing-failed,partitioning-failed"))
    c.equal("failed-records projection template is the delivery stream's ErrorOutputPrefix",
            fparams.get("storage.location.template"), f"s3://{bucket}/{error_location}")
    c.equal("failed-records dt projection: a date from LakeStartDate to NOW",
            (fparams.get("projection.dt.type"), fparams.get("projection.dt.format"), fparams.get("projection.dt.range")),
            ("date", "yyyy-MM-dd", f"{lake_start},NOW"))
    c.equal("failed-records columns are Firehose's error record",
            [(col["Name"], col["Type"]) for col in failed["StorageDescriptor"]["Columns"]],
            FIREHOSE_ERROR_RECORD)

    # The replay policy: exactly the calls the replay command makes.
    replay_arn = physical(stack, "ReplayPolicy")
    c.equal(
        "replay policy grants exactly the replay's calls",
        managed_policy_grants(iam, replay_arn),
        {
            "s3:ListBucket": {(f"arn:aws:s3:::{bucket}", f"errors/{p}/*")
                              for p in ("processing-failed", "partitioning-failed", "replayed")},
            "s3:GetObject": {(f"arn:aws:s3:::{bucket}/errors/{p}/*", None)
                             for p in ("processing-failed", "partitioning-failed", "replayed")},
            "s3:PutObject": {(f"arn:aws:s3:::{bucket}/errors/replayed/*", None)},
            **{a: {(target_arn, None)} for a, target_arn in REPLAY_CALLS[source](stream_arn, delivery_arn).items()},
        },
    )

    # Functions: what they are told matches what was created.
    env = producer.get("Environment", {}).get("Variables", {})
    if source == "KinesisStream":
        c.equal("producer writes to the created stream", (env.get("SINK"), env.get("STREAM_NAME")), ("kinesis", stream_name))
    else:
        c.equal("producer writes to the created delivery stream", (env.get("SINK"), env.get("DELIVERY_STREAM_NAME")), ("firehose", delivery_name))
    for fn in (producer, transformer):
        c.equal(f"{fn['FunctionName']} arm64", fn.get("Architectures"), ["arm64"])
        c.equal(f"{fn['FunctionName']} logs JSON", fn.get("LoggingConfig", {}).get("LogFormat"), "JSON")

    # Roles: exactly the calls the code makes, on these resources.
    target = stream_arn if source == "KinesisStream" else delivery_arn
    expected = {a: {target} for a in PRODUCER_CALLS[source]}
    grants = role_grants(iam, role_name_of(producer["Role"]))
    grants = {a: r for a, r in grants.items() if not a.startswith("sqs:")}  # SAM's DLQ grant, checked below
    c.equal("producer role grants exactly its sink's call", grants, expected)
    dlq_arn = sqs.get_queue_attributes(QueueUrl=physical(stack, "ProducerDeadLetterQueue"), AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs_grants = {a: r for a, r in role_grants(iam, role_name_of(producer["Role"])).items() if a.startswith("sqs:")}
    c.equal("producer role may send to its DLQ only", sqs_grants, {"sqs:SendMessage": {dlq_arn}})
    c.equal(
        "transformer role grants exactly the re-ingestion call",
        role_grants(iam, role_name_of(transformer["Role"])),
        {a: {target} for a in TRANSFORMER_CALLS[source]},
    )
    fh = role_grants(iam, physical(stack, "FirehoseRole"))
    c.equal("Firehose may invoke only the transformer", fh.get("lambda:InvokeFunction"), {transformer["FunctionArn"], transformer["FunctionArn"] + ":*"})
    c.equal("Firehose writes only the data bucket", fh.get("s3:PutObject"), {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"})
    reads = {a for a in fh if a.startswith("kinesis:")}
    if stream_arn:
        c.equal("Firehose reads only the stream", (reads, {r for a in reads for r in fh[a]}), (FIREHOSE_READS, {stream_arn}))
    else:
        c.equal("no stream reads for Direct PUT", reads, set())

    # S3: the settings MiniStack keeps.
    c.equal("bucket versioning", s3.get_bucket_versioning(Bucket=bucket).get("Status"), "Enabled")
    pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    c.check("public access blocked", all(pab.values()) and len(pab) == 4, str(pab))
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    c.check(
        "bucket policy denies plain HTTP",
        any(st["Effect"] == "Deny" and st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false" for st in policy["Statement"]),
        json.dumps(policy),
    )

    check_curation(c, aws, stack, template, bucket, database)

    # Alarms: every dimension names a resource that exists; actions reach a
    # topic whose key CloudWatch may use.
    alarm_names = [physical(stack, k) for k, r in stack["resources"].items() if r["ResourceType"] == "AWS::CloudWatch::Alarm"]
    alarms = cw.describe_alarms(AlarmNames=alarm_names)["MetricAlarms"]
    c.equal("alarms created", len(alarms), len(alarm_names))
    expected_alarms = 17 if source == "KinesisStream" else 16
    c.equal("alarms in the stack (less the metric-math one)", len(alarm_names), expected_alarms)
    exists = {
        "StreamName": lambda v: kinesis.describe_stream_summary(StreamName=v),
        "DeliveryStreamName": lambda v: firehose.describe_delivery_stream(DeliveryStreamName=v),
        "FunctionName": lambda v: lam.get_function(FunctionName=v),
        "QueueName": lambda v: sqs.get_queue_url(QueueName=v),
        "StateMachineArn": lambda v: aws("stepfunctions").describe_state_machine(stateMachineArn=v),
        "Stack": lambda v: None if v == name else (_ for _ in ()).throw(ValueError(f"not this stack ({name})")),
    }
    topic_arn = physical(stack, "AlarmTopic")
    for alarm in alarms:
        for dim in alarm["Dimensions"]:
            try:
                exists[dim["Name"]](dim["Value"])
                ok, why = True, ""
            except Exception as e:  # noqa: BLE001 - any failure means it does not exist
                ok, why = False, f"{dim['Name']}={dim['Value']}: {e}"
            c.check(f"alarm {alarm['MetricName']} watches an existing {dim['Name']}", ok, why)
        c.equal(f"alarm {alarm['MetricName']} notifies the topic", alarm["AlarmActions"], [topic_arn])
        if alarm["MetricName"] in ("GetRecords.IteratorAgeMilliseconds", "DeliveryToS3.Records", "CurationRuns",
                                   "CurationMaintenanceRuns"):
            # Heartbeats: an hour without a run counts against it.
            c.equal(f"alarm {alarm['MetricName']} treats missing data as breaching", alarm["TreatMissingData"], "breaching")
    check_dashboard(c, cw, stack, source, alarms)
    check_query_definitions(c, aws("logs"), stack, template)
    # MiniStack does not keep the topic's KmsMasterKeyId (docs/testing.md lists it);
    # the template agreement test holds the topic to this key instead.
    sns.get_topic_attributes(TopicArn=topic_arn)
    key_id = physical(stack, "AlarmTopicKey")
    key = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    c.equal("alarm topic key is customer managed", key.get("KeyManager"), "CUSTOMER")
    key_policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    c.check(
        "the key lets CloudWatch publish",
        any(
            st.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com"
            and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(st["Action"])
            and st.get("Condition", {}).get("StringEquals", {}).get("aws:SourceAccount") == ACCOUNT
            for st in key_policy["Statement"]
        ),
        json.dumps(key_policy),
    )
    return {"stream_name": stream_name, "delivery_name": delivery_name}


def check_dashboard(c: Checks, cw, stack: dict, source: str, alarms: list[dict]):
    """The dashboard exists, its body is JSON CloudWatch accepts the shape
    of, the stream row is there exactly with a Kinesis source, and every
    resource a widget names is one this stack created."""
    name = physical(stack, "PipelineDashboard")
    body = json.loads(cw.get_dashboard(DashboardName=name)["DashboardBody"])
    widgets = body["widgets"]
    c.check(f"dashboard {name}: {len(widgets)} widgets, each 1-24 wide",
            all(1 <= w["width"] <= 24 and w["type"] in ("metric", "text", "log", "alarm") for w in widgets))
    kinesis = [m for w in widgets for m in w["properties"].get("metrics", []) if m and m[0] == "AWS/Kinesis"]
    c.equal("dashboard has the stream row exactly with a Kinesis source", bool(kinesis), source == "KinesisStream")
    created = {a["AlarmArn"] for a in alarms}
    shown = {arn for w in widgets if w["type"] == "alarm" for arn in w["properties"]["alarms"]}
    # The metric-math alarm is left out here (LEFT_OUT); every other alarm
    # is on the dashboard, and nothing else.
    c.equal("dashboard's alarm widgets show every alarm deployed", sorted(created), sorted(a for a in shown if "DeliveryBelowProduction" not in a))
    # Physical ids, and their last path segment (an SQS queue's id is its
    # URL; its metrics' QueueName is the name at the end), and the stack.
    physical_ids = {r["PhysicalResourceId"] for r in stack["resources"].values()}
    names = physical_ids | {p.rsplit("/", 1)[-1] for p in physical_ids} | {stack["StackName"]}
    dims = {m[3] for w in widgets for m in w["properties"].get("metrics", []) if len(m) > 3 and isinstance(m[3], str)}
    c.check(f"dashboard's {len(dims)} metric dimension values name this stack's resources", dims <= names,
            str(sorted(dims - names)))
    for w in widgets:
        if w["type"] == "log":
            group = w["properties"]["query"].split("'")[1]
            c.check(f"dashboard log widget '{w['properties']['title']}' reads this stack's log group", group in names, group)


def check_query_definitions(c: Checks, logs, stack: dict, template: dict):
    """The saved Logs Insights queries (left out of MiniStack): each reads
    log groups this stack created, and each message it filters on is one the
    functions log (their source holds the string)."""
    sources = "".join(p.read_text() for p in (REPO / "functions").rglob("src/*.rs"))
    created = {g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]}
    for logical, r in template["Resources"].items():
        if r["Type"] != "AWS::Logs::QueryDefinition":
            continue
        props = r["Properties"]
        groups = [physical(stack, g["Ref"]) for g in props["LogGroupNames"]]
        c.check(f"query {logical} reads this stack's log groups", all(g in created for g in groups), str(groups))
        messages = re.findall(r'"([a-z][a-z ]+)"', props["QueryString"])
        missing = [m for m in messages if f'"{m}"' not in sources]
        c.check(f"query {logical} filters on messages the functions log ({len(messages)})", messages and not missing,
                str(missing))


ATHENA_SYNC = "arn:aws:states:::athena:startQueryExecution.sync"


DYNAMODB_TASKS = ("arn:aws:states:::dynamodb:updateItem", "arn:aws:states:::dynamodb:getItem")


def check_curation(c: Checks, aws, stack: dict, template: dict, bucket: str, database: str):
    """The curation workflow as created: the state machine's resolved
    definition names this stack's workgroup, database, bucket and lock
    table; the schedules start it; the roles grant exactly its calls."""
    sfn, scheduler, dynamodb, iam = aws("stepfunctions"), aws("scheduler"), aws("dynamodb"), aws("iam")
    name = stack["StackName"]
    machine_arn = physical(stack, "CurationStateMachine")
    machine = sfn.describe_state_machine(stateMachineArn=machine_arn)
    c.equal("curation: a STANDARD state machine (exactly-once state transitions)", machine.get("type"), "STANDARD")
    c.equal("curation: named after the stack (the role names its executions)", machine["name"], f"{name}-curation")
    role_name = physical(stack, "CurationRole")
    c.equal("curation: runs as its own role", role_name_of(machine["roleArn"]), role_name)
    # MiniStack drops tracingConfiguration: held to the template instead.
    c.equal("curation: X-Ray tracing on (in the template; MiniStack drops it)",
            template["Resources"]["CurationStateMachine"]["Properties"].get("Tracing"), {"Enabled": True})
    engine_version = aws("athena").get_work_group(WorkGroup=physical(stack, "AthenaWorkGroup"))["WorkGroup"][
        "Configuration"].get("EngineVersion", {}).get("SelectedEngineVersion")
    c.equal("curation: the workgroup is pinned to engine version 3 (VACUUM)", engine_version, "Athena engine version 3")
    # MiniStack does not keep loggingConfiguration (docs/testing.md lists it); the
    # template agreement test holds the logging to the template instead.
    definition = json.loads(machine["definition"])
    states = definition["States"]
    workgroup = physical(stack, "AthenaWorkGroup")
    lock_table = physical(stack, "CurationLockTable")
    athena = {k: v for k, v in states.items() if v.get("Resource") == ATHENA_SYNC}
    c.equal(
        "curation: the Athena steps, in order",
        sorted(athena),
        sorted(["CreateTable", "CheckTableColumns", "PlanWindow", "PlanInserts", "ReconcileBlock",
                "CountFutureDated", "CompactSmallFiles", "ExpireSnapshotsAndOrphans"]),
    )
    # The INSERT is started without .sync (its query id goes to the lock
    # item first), then waited for by GetQueryExecution.
    insert = states.get("InsertEvents", {})
    c.equal("curation: InsertEvents starts its query and the run waits for it by id",
            (insert.get("Resource"), insert.get("Next"), states.get("RememberInsert", {}).get("Next")),
            ("arn:aws:states:::athena:startQueryExecution", "RememberInsert", "WaitForInsert"))
    c.equal("curation: InsertEvents starts its request with the request's ClientRequestToken",
            insert.get("Parameters", {}).get("ClientRequestToken.$"), "$.request.token")
    c.equal("curation: InsertEvents runs in the stack's workgroup and database",
            (insert.get("Parameters", {}).get("WorkGroup"),
             insert.get("Parameters", {}).get("QueryExecutionContext", {}).get("Database")), (workgroup, database))
    for state_name, state in athena.items():
        params = state["Parameters"]
        c.equal(f"curation: {state_name} runs in the stack's workgroup and database",
                (params.get("WorkGroup"), params.get("QueryExecutionContext", {}).get("Database")), (workgroup, database))
        c.check(f"curation: {state_name} retries and then releases the lock",
                bool(state.get("Retry")) and state.get("Catch", [{}])[-1].get("Next") == "ReleaseLockAfterFailure",
                json.dumps({"Retry": state.get("Retry"), "Catch": state.get("Catch")}))
        c.check(f"curation: {state_name} has a timeout", state.get("TimeoutSeconds", 0) > 0, str(state.get("TimeoutSeconds")))
    c.check("curation: the table's LOCATION is this bucket's curated/",
            f"LOCATION 's3://{bucket}/curated/chat_events_curated/'" in athena["CreateTable"]["Parameters"]["QueryString"],
            athena["CreateTable"]["Parameters"]["QueryString"])
    tables = {v["Parameters"]["TableName"] for v in states.values() if v.get("Resource") in DYNAMODB_TASKS}
    c.equal("curation: every lock step names the lock table", tables, {lock_table})
    key = dynamodb.describe_table(TableName=lock_table)["Table"]["KeySchema"]
    c.equal("curation: the lock table's key", key, [{"AttributeName": "id", "KeyType": "HASH"}])
    start_day = template["Parameters"]["LakeStartDate"]["Default"].replace("-", "")
    c.equal("curation: a first run starts at LakeStartDate",
            states["AcquireLock"]["Parameters"]["ExpressionAttributeValues"][":start"], {"S": start_day})

    # The schedules (SAM ScheduleV2 events, named <machine><event>) start
    # this state machine with its input, as this role, and put what they
    # could not deliver into the dead-letter queue.
    scheduler_role = physical(stack, "CurationSchedulerRole")
    dead_letters = aws("sqs").get_queue_attributes(
        QueueUrl=physical(stack, "CurationScheduleDeadLetterQueue"), AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for logical, maintenance in (("CurationStateMachineHourlyCuration", False),
                                 ("CurationStateMachineDailyMaintenance", True)):
        schedule = scheduler.get_schedule(Name=physical(stack, logical))
        param = template["Parameters"]["CurationScheduleExpression" if not maintenance else "MaintenanceScheduleExpression"]["Default"]
        target = schedule["Target"]
        c.equal(f"curation: {logical} starts the state machine", target["Arn"], machine_arn)
        c.equal(f"curation: {logical} as the scheduler role", role_name_of(target["RoleArn"]), scheduler_role)
        c.equal(f"curation: {logical} input", json.loads(target["Input"]), {"maintenance": maintenance})
        c.equal(f"curation: {logical} expression", (schedule["ScheduleExpression"], schedule.get("ScheduleExpressionTimezone")), (param, "UTC"))
        c.equal(f"curation: {logical} retries an hour, then dead-letters", (
            target.get("RetryPolicy", {}).get("MaximumEventAgeInSeconds"),
            target.get("DeadLetterConfig", {}).get("Arn")), (3600, dead_letters))
    trust = trust_statements(iam.get_role(RoleName=scheduler_role)["Role"])
    c.equal("curation: only EventBridge Scheduler assumes the scheduler role",
            [st["Principal"].get("Service") for st in trust], ["scheduler.amazonaws.com"])
    c.equal("curation: the scheduler role may only start this state machine and dead-letter",
            role_grants(iam, scheduler_role), {"states:StartExecution": {machine_arn}, "sqs:SendMessage": {dead_letters}})

    # The workflow's role: exactly the calls its states and queries make.
    region_account = f"{REGION}:{ACCOUNT}"
    glue_resources = {
        f"arn:aws:glue:{region_account}:catalog",
        f"arn:aws:glue:{region_account}:database/{database}",
        f"arn:aws:glue:{region_account}:table/{database}/chat_events",
        f"arn:aws:glue:{region_account}:table/{database}/chat_events_curated",
    }
    lock_arn = dynamodb.describe_table(TableName=lock_table)["Table"]["TableArn"]
    bucket_arn = f"arn:aws:s3:::{bucket}"
    written = {f"{bucket_arn}/curated/*", f"{bucket_arn}/athena-results/*"}
    expected = {
        "athena:StartQueryExecution": {f"arn:aws:athena:{region_account}:workgroup/{workgroup}"},
        "athena:StopQueryExecution": {f"arn:aws:athena:{region_account}:workgroup/{workgroup}"},
        "athena:GetQueryExecution": {f"arn:aws:athena:{region_account}:workgroup/{workgroup}"},
        "athena:GetQueryResults": {f"arn:aws:athena:{region_account}:workgroup/{workgroup}"},
        "athena:GetDataCatalog": {f"arn:aws:athena:{region_account}:datacatalog/AwsDataCatalog"},
        "glue:GetDatabase": glue_resources,
        "glue:GetTable": glue_resources,
        "glue:CreateTable": glue_resources,
        "glue:UpdateTable": glue_resources,
        "s3:ListBucket": {bucket_arn},
        "s3:GetBucketLocation": {bucket_arn},
        "s3:GetObject": {f"{bucket_arn}/events/*"} | written,
        "s3:PutObject": written,
        "s3:AbortMultipartUpload": written,
        "s3:ListMultipartUploadParts": written,
        "s3:DeleteObject": {f"{bucket_arn}/curated/*"},
        "dynamodb:UpdateItem": {lock_arn},
        "dynamodb:GetItem": {lock_arn},
        "states:DescribeExecution": {f"arn:aws:states:{region_account}:execution:{name}-curation:*"},
        # ContinueRun: its own state machine only.
        "states:StartExecution": {f"arn:aws:states:{region_account}:stateMachine:{name}-curation"},
        "cloudwatch:PutMetricData": {"*"},
        # The Athena integration's policy template (Lake Formation-governed
        # catalogs) and X-Ray tracing: both take "*".
        "lakeformation:GetDataAccess": {"*"},
        **{a: {"*"} for a in ("xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets")},
    }
    # Every Athena call a state makes (the integration's action, .sync also
    # polling GetQueryExecution and stopping on abort) is among them.
    called = {r.removeprefix("arn:aws:states:::athena:").removesuffix(".sync")
              for r in (v.get("Resource", "") for v in states.values()) if r.startswith("arn:aws:states:::athena:")}
    called = {"athena:" + a[:1].upper() + a[1:] for a in called}
    c.check("curation: every Athena call of the definition is granted", called <= set(expected),
            str(sorted(called - set(expected))))
    grants = {a: r for a, r in role_grants(iam, role_name).items() if not a.startswith("logs:")}
    c.equal("curation: the role grants exactly the workflow's calls", grants, expected)
    trust = trust_statements(iam.get_role(RoleName=role_name)["Role"])
    c.equal("curation: only Step Functions assumes the role", [st["Principal"].get("Service") for st in trust], ["states.amazonaws.com"])


def check_left_out_alarm(c: Checks, template: dict):
    """The metric-math alarm MiniStack refuses, checked against the template."""
    print("\nDeliveryBelowProductionAlarm (not deployable in MiniStack; read from the template)")
    alarm = template["Resources"]["DeliveryBelowProductionAlarm"]["Properties"]
    metrics = {m["Id"]: m for m in alarm["Metrics"]}
    c.equal("missing data breaches", alarm["TreatMissingData"], "breaching")
    c.equal("expression", metrics["ratio"]["Expression"], "answered / generated")
    dims = {m: metrics[m]["MetricStat"]["Metric"]["Dimensions"][0]["Value"] for m in ("answered", "generated")}
    c.equal("dimensions name the stack's transformer and producer", dims, {"answered": {"Ref": "TransformerFunction"}, "generated": {"Ref": "ProducerFunction"}})
    # Both count events: the transformer's `ok` is counted after Firehose's
    # de-aggregation, so packed records do not skew the ratio.
    names = {m: (metrics[m]["MetricStat"]["Metric"]["Namespace"], metrics[m]["MetricStat"]["Metric"]["MetricName"]) for m in ("answered", "generated")}
    c.equal("both are the functions' EMF event counts", names, {"answered": ("ChatPipeline", "ok"), "generated": ("ChatPipeline", "generated")})


SNOWFLAKE_USER = "arn:aws:iam::123456789012:user/abc1-s-example"


SNOWFLAKE_EXTERNAL_ID = "MYACCOUNT_SFCRole=2_abcdefg="


SNOWFLAKE_ICEBERG_EXTERNAL_IDS = ["MYACCOUNT_SFCRole=2_glue000=", "MYACCOUNT_SFCRole=2_volume0="]


def check_snowflake_options(c: Checks, aws, body: str, name: str):
    """The Snowflake parameters set on a live stack: the storage role, read
    only on events/, trusted by Snowflake's user with the external ID; and
    the bucket's notification to the pipe's queue (a queue of the emulator's
    stands in for Snowflake's)."""
    print(f"\n{name}: Snowflake options on (UpdateStack)")
    queue_url = aws("sqs").create_queue(QueueName="sf-snowpipe-example")["QueueUrl"]
    queue_arn = aws("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack = deploy(aws, body, name, "DirectPut", update=True, extra={
        "SnowflakeIamUserArn": SNOWFLAKE_USER,
        "SnowflakeExternalId": SNOWFLAKE_EXTERNAL_ID,
        "SnowflakeIcebergExternalIds": ",".join(SNOWFLAKE_ICEBERG_EXTERNAL_IDS),
        "SnowpipeQueueArn": queue_arn,
    })
    c.equal("update completes", stack["StackStatus"], "UPDATE_COMPLETE")
    if stack["StackStatus"] != "UPDATE_COMPLETE":
        return
    iam = aws("iam")
    role_name = physical(stack, "SnowflakeStorageRole")
    c.equal("role has the fixed name the integration was told", role_name, f"{name}-snowflake-s3")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    role = iam.get_role(RoleName=role_name)["Role"]
    c.equal("output SnowflakeStorageRoleArn is the role's ARN", outputs.get("SnowflakeStorageRoleArn"), role["Arn"])
    (statement,) = trust_statements(role)
    c.equal("trusted by Snowflake's IAM user only", (statement["Principal"], statement["Action"]), ({"AWS": SNOWFLAKE_USER}, "sts:AssumeRole"))
    c.equal("with the integration's external ID", statement.get("Condition"), {"StringEquals": {"sts:ExternalId": SNOWFLAKE_EXTERNAL_ID}})
    bucket = physical(stack, "DataBucket")
    bucket_arn = f"arn:aws:s3:::{bucket}"
    c.equal("read only, on events/ only", role_grants(iam, role_name), {
        "s3:GetObject": {f"{bucket_arn}/events/*"},
        "s3:GetObjectVersion": {f"{bucket_arn}/events/*"},
        "s3:ListBucket": {bucket_arn},
        "s3:GetBucketLocation": {bucket_arn},
    })
    # The Iceberg role: the catalog integration and the external volume, each
    # with its own external ID; reads of the curated table only.
    iceberg_role_name = physical(stack, "SnowflakeIcebergRole")
    c.equal("iceberg role has the fixed name the integrations were told", iceberg_role_name, f"{name}-snowflake-iceberg")
    iceberg_role = iam.get_role(RoleName=iceberg_role_name)["Role"]
    c.equal("output SnowflakeIcebergRoleArn is the role's ARN", outputs.get("SnowflakeIcebergRoleArn"), iceberg_role["Arn"])
    (statement,) = trust_statements(iceberg_role)
    c.equal("iceberg role: trusted by Snowflake's IAM user with either integration's external ID",
            (statement["Principal"], statement.get("Condition")),
            ({"AWS": SNOWFLAKE_USER}, {"StringEquals": {"sts:ExternalId": SNOWFLAKE_ICEBERG_EXTERNAL_IDS}}))
    glue = curated_table_glue_resources(physical(stack, "EventsDatabase"))
    c.equal("iceberg role: reads the curated table's definition and files only", role_grants(iam, iceberg_role_name), {
        "glue:GetTable": glue,
        "glue:GetTables": glue,
        "s3:GetObject": {f"{bucket_arn}/curated/*"},
        "s3:GetObjectVersion": {f"{bucket_arn}/curated/*"},
        "s3:ListBucket": {bucket_arn},
        "s3:GetBucketLocation": {bucket_arn},
    })
    notification = aws("s3").get_bucket_notification_configuration(Bucket=bucket)
    queues = notification.get("QueueConfigurations", [])
    c.equal("the bucket notifies the pipe's queue", [q["QueueArn"] for q in queues], [queue_arn])
    if queues:
        rules = queues[0].get("Filter", {}).get("Key", {}).get("FilterRules", [])
        c.equal("of every object created under events/", (queues[0]["Events"], [(r["Name"].lower(), r["Value"]) for r in rules]), (["s3:ObjectCreated:*"], [("prefix", "events/")]))


# With RedshiftStreamingIngestion=Enabled, MiniStack refuses the whole
# template ("Unrecognized resource types: AWS::RedshiftServerless::Namespace,
# AWS::RedshiftServerless::Workgroup"). The role streaming ingestion assumes
# is ordinary IAM, so it is deployed and checked without those two (and the
# outputs naming them); the two are checked by the linters only.
REDSHIFT_ONLY_IN_AWS = ["RedshiftNamespace", "RedshiftWorkgroup"]


def check_redshift_role(c: Checks, aws, translated: dict):
    name = "chat-pipeline-local-redshift"
    print(f"\n{name}: RedshiftStreamingIngestion=Enabled, without {', '.join(REDSHIFT_ONLY_IN_AWS)}")
    variant = json.loads(json.dumps(leave_out(translated)))
    for logical in REDSHIFT_ONLY_IN_AWS:
        del variant["Resources"][logical]
    variant["Outputs"] = {
        k: v for k, v in variant["Outputs"].items() if not any(r in json.dumps(v) for r in REDSHIFT_ONLY_IN_AWS)
    }
    stack = deploy(aws, json.dumps(variant), name, "KinesisStream",
                   extra={"RedshiftStreamingIngestion": "Enabled", "PackEvents": "Disabled"})
    c.equal("created", stack["StackStatus"], "CREATE_COMPLETE")
    if stack["StackStatus"] != "CREATE_COMPLETE":
        return
    iam = aws("iam")
    role_name = physical(stack, "RedshiftStreamingRole")
    role = iam.get_role(RoleName=role_name)["Role"]
    (statement,) = trust_statements(role)
    c.equal("assumed by Redshift only", sorted(statement["Principal"]["Service"]), ["redshift-serverless.amazonaws.com", "redshift.amazonaws.com"])
    stream = physical(stack, "EventStream")
    stream_arn = aws("kinesis").describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    reads = {"kinesis:DescribeStreamSummary", "kinesis:DescribeStream", "kinesis:GetShardIterator", "kinesis:GetRecords", "kinesis:ListShards"}
    expected = {a: {stream_arn} for a in reads} | {"kinesis:ListStreams": {"*"}}
    database, bucket = physical(stack, "EventsDatabase"), physical(stack, "DataBucket")
    glue = curated_table_glue_resources(database)
    bucket_arn = f"arn:aws:s3:::{bucket}"
    expected |= {a: glue for a in ("glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartitions")}
    expected |= {"s3:GetObject": {f"{bucket_arn}/curated/*"}, "s3:ListBucket": {bucket_arn}, "s3:GetBucketLocation": {bucket_arn}}
    c.equal("exactly the streaming-ingestion reads on this stream, and reads of the curated table", role_grants(iam, role_name), expected)


def curated_table_glue_resources(database: str) -> set[str]:
    region_account = f"{REGION}:{ACCOUNT}"
    return {
        f"arn:aws:glue:{region_account}:catalog",
        f"arn:aws:glue:{region_account}:database/{database}",
        f"arn:aws:glue:{region_account}:table/{database}/chat_events_curated",
    }


def check_source_switch(c: Checks, aws, body: str, name: str, before: dict):
    """KinesisStream -> DirectPut on a live stack: the delivery stream is
    replaced under a new generated name and the stream is retained."""
    print(f"\n{name}: SourceType KinesisStream -> DirectPut (UpdateStack)")
    stack = deploy(aws, body, name, "DirectPut", update=True)
    c.equal("update completes", stack["StackStatus"], "UPDATE_COMPLETE")
    new_delivery = physical(stack, "DeliveryStream")
    c.check("delivery stream replaced under a new name", new_delivery != before["delivery_name"], new_delivery)
    described = aws("firehose").describe_delivery_stream(DeliveryStreamName=new_delivery)["DeliveryStreamDescription"]
    c.equal("new delivery stream is Direct PUT", described["DeliveryStreamType"], "DirectPut")
    try:
        aws("kinesis").describe_stream_summary(StreamName=before["stream_name"])
        retained = True
    except Exception:  # noqa: BLE001
        retained = False
    c.check("the stream is retained (DeletionPolicy: Retain)", retained, before["stream_name"])
    env = aws("lambda").get_function(FunctionName=physical(stack, "ProducerFunction"))["Configuration"]["Environment"]["Variables"]
    c.equal("producer now writes to the new delivery stream", (env.get("SINK"), env.get("DELIVERY_STREAM_NAME")), ("firehose", new_delivery))
