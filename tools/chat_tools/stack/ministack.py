"""The stack in MiniStack, for chat_tools.stack.deploy: the SAM template
translated offline (as `sam validate` does), what MiniStack cannot create
left out by name and reason, the emulator's lifecycle (a free loopback
port, its own process group, stopped on every exit path), and CreateStack /
UpdateStack with the placeholder code the functions point at.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

import boto3
from botocore.config import Config as BotoConfig
from samtranslator.translator.transform import transform

from chat_tools import cfn_template

REGION = "us-east-1"
ACCOUNT = "000000000000"

ENVIRONMENT = "staging"


ARTIFACTS = "chat-pipeline-local-artifacts"


# Resources MiniStack refuses, each with why. The run fails if the
# translated template holds anything else that must be left out, or if one of
# these disappears from the template (so the list cannot go stale).
NAMED_QUERY = (
    "AWS::Athena::NamedQuery: MiniStack has no provisioner for it (CreateStack fails: "
    "Unrecognized resource types); `make query`/`make demo` run these queries in DuckDB instead"
)


QUERY_DEFINITION = (
    "AWS::Logs::QueryDefinition: MiniStack has no provisioner for it; its log groups and "
    "query text are checked against the template instead (check_query_definitions)"
)


LEFT_OUT = {
    "FailedRecordsByReasonQuery": QUERY_DEFINITION,
    "SlowestInvocationsQuery": QUERY_DEFINITION,
    "ProducerResendsQuery": QUERY_DEFINITION,
    "RecentViewQuery": NAMED_QUERY,
    "EventsPerHourQuery": NAMED_QUERY,
    "ActiveUsersQuery": NAMED_QUERY,
    "EventsInTheLastHourQuery": NAMED_QUERY,
    "RetryCopiesQuery": NAMED_QUERY,
    "FailedViewQuery": NAMED_QUERY,
    "FailuresByReasonQuery": NAMED_QUERY,
    "FutureDatedEventsQuery": NAMED_QUERY,
    "DeliveryBelowProductionAlarm": "an alarm on metric math (Properties.Metrics): MiniStack "
    "refuses it; its dimensions are checked against the template instead",
}


def load_template() -> dict:
    return cfn_template.load()


class NoManagedPolicies:
    """The translator asks for managed policy ARNs only when a function names
    one by its short name; ours do not."""

    def load(self):
        return {}


def translate(template: dict) -> dict:
    """SAM -> CloudFormation, offline. Function code points at a placeholder
    object the run uploads first: this checks the stack, not the binaries
    (`make build` builds those; the Runtime API tests run them)."""
    template = json.loads(json.dumps(template))
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = f"s3://{ARTIFACTS}/{name}.zip"
        if resource["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in resource["Properties"]:
            # What `sam package` uploads and Step Functions reads, inlined:
            # the emulator reads no S3 definition.
            definition = cfn_template.state_machine_definition(resource)
            del resource["Properties"]["DefinitionUri"]
            resource["Properties"]["Definition"] = definition
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    return transform(template, {}, NoManagedPolicies())


def leave_out(translated: dict) -> dict:
    """Removes what MiniStack cannot create; fails if that is not exactly
    LEFT_OUT."""
    resources = translated["Resources"]
    must_leave = {
        name
        for name, r in resources.items()
        if r["Type"] in ("AWS::Athena::NamedQuery", "AWS::Logs::QueryDefinition")
        or (r["Type"] == "AWS::CloudWatch::Alarm" and "Metrics" in r.get("Properties", {}))
    }
    if must_leave != set(LEFT_OUT):
        raise SystemExit(
            f"deploy-local: the resources MiniStack cannot create changed: {sorted(must_leave)} "
            f"!= LEFT_OUT {sorted(LEFT_OUT)}; update LEFT_OUT (and docs/testing.md) with the reason"
        )
    out = json.loads(json.dumps(translated))
    for name in must_leave:
        del out["Resources"][name]
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    """MiniStack on a loopback port, in its own process group."""

    def __init__(self, binary: str, log: Path):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.workdir = tempfile.mkdtemp(prefix="chat-pipeline-ministack-")
        env = dict(
            os.environ,
            GATEWAY_PORT=str(self.port),
            BIND_HOST="127.0.0.1",
            MINISTACK_REGION=REGION,
            TMPDIR=self.workdir,
            S3_DATA_DIR=os.path.join(self.workdir, "s3"),
            LOG_LEVEL="WARNING",
        )
        self.log = open(log, "w")
        self.process = subprocess.Popen(
            [binary], env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, seconds: float = 60.0):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"deploy-local: MiniStack exited with {self.process.returncode}; see {self.log.name}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/_ministack/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"deploy-local: MiniStack did not answer on {self.endpoint} within {seconds:.0f} s")

    def stop(self):
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait()
        self.log.close()


def clients(endpoint: str):
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION
    )
    config = BotoConfig(retries={"max_attempts": 2})
    return lambda service: session.client(service, endpoint_url=endpoint, config=config)


def wait_stack(cfn, name: str) -> dict:
    for _ in range(600):
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack
        time.sleep(0.2)
    raise SystemExit(f"deploy-local: {name} still in progress after 2 minutes")


# CreateStack takes at most 51,200 bytes inline (CloudFormation User Guide,
# "CloudFormation quotas": template body size in a request); a larger one
# must come from S3, which is what `sam deploy` does with resolve_s3
# (samconfig.toml). MiniStack enforces the same limit.
TEMPLATE_BODY_LIMIT = 51_200


def template_source(aws, template_body: str, name: str) -> dict:
    if len(template_body.encode()) <= TEMPLATE_BODY_LIMIT:
        return {"TemplateBody": template_body}
    s3 = aws("s3")
    key = f"templates/{name}.json"
    s3.put_object(Bucket=ARTIFACTS, Key=key, Body=template_body.encode())
    return {"TemplateURL": f"{s3.meta.endpoint_url}/{ARTIFACTS}/{key}"}


def deploy(aws, template_body: str, name: str, source: str, update: bool = False, extra: dict | None = None) -> dict:
    cfn = aws("cloudformation")
    # An update keeps the stack's other parameters (as `sam deploy` does
    # with samconfig.toml's), the database's name among them.
    previous = {}
    if update:
        previous = {p["ParameterKey"]: p["ParameterValue"]
                    for p in cfn.describe_stacks(StackName=name)["Stacks"][0].get("Parameters", [])}
    parameters = {**previous, "Environment": ENVIRONMENT, "SourceType": source, **(extra or {})}
    args = dict(
        StackName=name,
        **template_source(aws, template_body, name),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    (cfn.update_stack if update else cfn.create_stack)(**args)
    stack = wait_stack(cfn, name)
    resources = {
        r["LogicalResourceId"]: r for r in cfn.describe_stack_resources(StackName=name)["StackResources"]
    }
    stack["resources"] = resources
    return stack


def physical(stack: dict, logical: str) -> str:
    return stack["resources"][logical]["PhysicalResourceId"]


def upload_placeholder_code(aws, template: dict):
    s3 = aws("s3")
    s3.create_bucket(Bucket=ARTIFACTS)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\necho placeholder: the stack is checked, not the code\nexit 1\n")
    for name, r in template["Resources"].items():
        if r["Type"] == "AWS::Serverless::Function":
            s3.put_object(Bucket=ARTIFACTS, Key=f"{name}.zip", Body=buf.getvalue())
