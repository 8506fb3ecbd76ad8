#!/usr/bin/env python3
"""Deploy template.yaml, both source types, into an AWS emulator and check
what was created through the services' own APIs.

This is the check linters cannot give: cfn-lint, `sam validate` and checkov
read shapes; here CloudFormation (MiniStack's) resolves every intrinsic,
creates every resource and the assertions below read the result back.

Steps:
1. Translate the SAM template offline with aws-sam-translator, as
   `sam validate` does (fake account 000000000000, region us-east-1).
2. Start MiniStack (its own pinned virtualenv, .venv-ministack) on a free
   loopback port, in a new process group.
3. Create two stacks with the same Environment in one account and region:
   SourceType=KinesisStream and SourceType=DirectPut (names never collide).
4. Assert the wiring (see `check_stack`), then switch the Kinesis stack to
   DirectPut with UpdateStack and assert the stream was retained.
4a. Turn the Snowflake options on (UpdateStack, a local SQS queue standing in
   for the pipe's) and assert the storage role and the bucket notification.
4b. Create a third stack with RedshiftStreamingIngestion=Enabled, less the
   two Redshift Serverless resources MiniStack cannot create, and assert the
   streaming role's trust and grants.
5. Stop the emulator by process group on every exit path (normal, error,
   Ctrl-C, SIGTERM).

What MiniStack cannot take is left out by name and reason in LEFT_OUT; the
run fails if the template grows anything else it has to leave out. What it
keeps too loosely to check (stream encryption, S3 lifecycle and tags, the
producer's dead-letter configuration) is listed in docs/testing.md.

Where each part lives: chat_tools.stack.ministack (translation, the emulator,
CreateStack), chat_tools.stack.assertions (the assertions), chat_tools.checks.report (the
report).

Usage: deploy_local.py --ministack PATH/TO/ministack [--keep-log]
Prints one line per check and ends with "N passed, M failed"; exits 1 on any
failure.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from chat_tools.checks.report import Checks
from chat_tools.paths import REPO
from chat_tools.stack.ministack import (LEFT_OUT, Emulator, clients, deploy, leave_out, load_template, translate,
                         upload_placeholder_code)
from chat_tools.stack.assertions import (check_left_out_alarm, check_redshift_role, check_snowflake_options, check_source_switch,
                          check_stack)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ministack", required=True, help="the ministack executable (from .venv-ministack)")
    ap.add_argument("--log", default=str(REPO / "target" / "deploy-local-ministack.log"))
    args = ap.parse_args()

    template = load_template()
    translated = translate(template)
    body = json.dumps(leave_out(translated))
    Path(args.log).parent.mkdir(parents=True, exist_ok=True)

    emulator = Emulator(args.ministack, Path(args.log))

    def on_signal(signum, _frame):
        emulator.stop()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    started = time.monotonic()
    c = Checks()
    try:
        emulator.wait_ready()
        print(f"MiniStack on {emulator.endpoint} (log: {args.log}); {len(translated['Resources'])} translated resources, "
              f"left out: {', '.join(f'{k} ({v})' for k, v in LEFT_OUT.items())}")
        aws = clients(emulator.endpoint)
        upload_placeholder_code(aws, template)
        stacks = {}
        # One stack names its Glue database (as samconfig.toml does), the
        # other leaves the name to the template (chat_pipeline_<stack id>).
        for source, name, extra in (("KinesisStream", "chat-pipeline-local-kds", {"GlueDatabaseName": "chat_pipeline_local_kds"}),
                                    ("DirectPut", "chat-pipeline-local-direct", {})):
            stack = deploy(aws, body, name, source, extra=extra)
            if stack["StackStatus"] != "CREATE_COMPLETE":
                events = aws("cloudformation").describe_stack_events(StackName=name)["StackEvents"]
                reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}" for e in events if "FAILED" in e["ResourceStatus"]]
                c.check(f"{name} created", False, f"{stack['StackStatus']}: {reasons[:5]}")
                continue
            stacks[source] = (name, check_stack(c, aws, stack, source, template))
        check_left_out_alarm(c, template)
        if "KinesisStream" in stacks:
            name, before = stacks["KinesisStream"]
            check_source_switch(c, aws, body, name, before)
        if "DirectPut" in stacks:
            check_snowflake_options(c, aws, body, stacks["DirectPut"][0])
        check_redshift_role(c, aws, translated)
    finally:
        emulator.stop()
    print(f"\ndeploy-local: {time.monotonic() - started:.1f} s, emulator stopped")
    print(c.summary())
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
