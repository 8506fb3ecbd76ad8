"""The curation state machine as AWS runs it, on this machine: its own
definition (statemachine/curation.asl.yaml, with template.yaml's
DefinitionSubstitutions), executed by moto's Step Functions interpreter,
with DynamoDB (the lock and watermarks) in moto and Athena in
chat_tools.curation.local_athena.

Where it sits: `make curate`, `make demo` and the tools' tests run the
curation through `Runner`; nothing here knows the workflow's states. What
the definition says (Pass, Choice, Task, Retry, Catch, ResultSelector,
ResultPath, the intrinsic functions, the DynamoDB conditional writes, the
aws-sdk call to DescribeExecution) is what runs, so a definition error (a
missing path, a wrong Next, a StartAt pointing elsewhere) fails or changes
the result here as it would on AWS.

Why moto's interpreter: it is LocalStack's ASL interpreter, maintained in
moto (moto/stepfunctions/parser), in pure Python from PyPI, and it runs the
DynamoDB and aws-sdk integrations against moto in the same process. What it
lacks or does differently is bridged in chat_tools.moto_patch (the one place
moto is patched); the Runner gives the bridge its Athena, its clock and its
time scale:

- `$$.Execution.StartTime` comes from the clock the Runner is given (a test
  can start an execution "on" a given day);
- retry intervals are scaled by `time_scale` (default 1/1000: Athena's
  60-second retry waits 60 ms), which keeps their order and count, and a
  Wait state lasts a hundredth of its time, at most `max_wait` (0.1 s): the
  loops that poll a query poll a few times a second (more would only take
  the interpreter's time from the query), and the daily run's hour of
  waiting for the lock lasts 3 s;
- moto does not check a definition when it is created; `validate` makes the
  checks CreateStateMachine makes (transition targets, reachability).

The lock item lives in moto's DynamoDB while executions run; between runs
(separate processes) it is kept in `<lake>/.curation-state.json`
(`curated.RunState`), loaded into the table before and saved after.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Callable

from chat_tools import moto_patch
from chat_tools.curation import curated
from chat_tools.curation import local_athena

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/local-curation"
# Execution statuses that end an execution.
ENDED = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
# Step Functions' quota of events in one execution's history: past it the
# execution fails ("Step Functions service quotas"). The runner stops an
# execution whose history passes it and reports it failed.
HISTORY_QUOTA = 25_000
HISTORY_QUOTA_ERROR = "ExecutionHistoryQuotaExceeded"


class InvalidDefinition(Exception):
    """The definition is one CreateStateMachine refuses."""


def validate(definition: dict):
    """The static checks CreateStateMachine makes and moto 5.2.5 does not
    (Step Functions refuses such a definition with InvalidDefinition:
    "MISSING_TRANSITION_TARGET", an unreachable state): StartAt and every
    Next, Default and Catch target name a state, every state that is not
    terminal says where to go, and every state is reachable."""
    states = definition.get("States", {})
    problems = []
    if definition.get("StartAt") not in states:
        problems.append(f"MISSING_TRANSITION_TARGET: StartAt {definition.get('StartAt')!r} names no state")
    edges: dict[str, list[str]] = {}
    for name, state in states.items():
        targets = [state.get("Next"), state.get("Default")]
        targets += [c.get("Next") for c in state.get("Choices", [])]
        targets += [c.get("Next") for c in state.get("Catch", [])]
        targets = [t for t in targets if t is not None]
        edges[name] = targets
        for t in targets:
            if t not in states:
                problems.append(f"MISSING_TRANSITION_TARGET: {name} goes to {t!r}, which is no state")
        terminal = state.get("Type") in ("Choice", "Succeed", "Fail") or state.get("End") is True
        if not terminal and state.get("Next") is None:
            problems.append(f"SCHEMA_VALIDATION_FAILED: {name} has neither Next nor End")
    reached, todo = set(), [definition.get("StartAt")]
    while todo:
        name = todo.pop()
        if name in reached or name not in states:
            continue
        reached.add(name)
        todo.extend(edges.get(name, []))
    problems += [f"UNREACHABLE_STATE: {name} cannot be reached from StartAt" for name in states if name not in reached]
    if problems:
        raise InvalidDefinition("; ".join(problems))


@dataclass
class Step:
    state: str
    detail: str
    # Whether the run's report shows it: Task states and the states that
    # end an execution; not the Pass, Choice and Wait states of its loops,
    # nor the polls of a query it waits for.
    shown: bool = True
    # Whether the query it started was still running when the report was
    # made (its detail is not final yet).
    pending: bool = False


@dataclass
class Window:
    """The arrival days (dt) a run read: [first_day, end_day), yyyymmdd."""

    first_day: str
    end_day: str
    caught_up: bool

    def __str__(self) -> str:
        last = dt.datetime.strptime(self.end_day, "%Y%m%d").date() - dt.timedelta(days=1)
        first = dt.datetime.strptime(self.first_day, "%Y%m%d").date()
        days = (last - first).days + 1
        return f"arrival days {first} to {last} ({days} days){'' if self.caught_up else ', not caught up'}"


@dataclass
class Execution:
    arn: str
    status: str
    steps: list[Step] = field(default_factory=list)
    error: str | None = None
    cause: str | None = None
    inserted: int = 0
    # From the execution's output: None when the run failed or skipped.
    window: Window | None = None
    # Events in the execution's history (Step Functions' quota: 25,000).
    history_events: int = 0
    # The execution this one started to go on with its window's blocks
    # (ContinueRun), if any.
    continuation: str | None = None
    # The runs before this one in one `curate()` call (a backlog).
    earlier: list["Execution"] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"{s.state:28} {s.detail}" for s in self.steps if s.shown]

    def final_lines(self) -> list[str]:
        """The lines of the steps whose detail is final: every step before
        the last one entered, up to the first whose query still runs."""
        out = []
        for step in self.steps[:-1]:
            if step.pending:
                break
            if step.shown:
                out.append(f"{step.state:28} {step.detail}")
        return out

    @property
    def runs(self) -> list["Execution"]:
        return [*self.earlier, self]

    @property
    def total_inserted(self) -> int:
        return sum(run.inserted for run in self.runs)

    @property
    def ran(self) -> bool:
        """False when the run found another holding the lock."""
        return not any(s.state == "SkipRun" for s in self.steps)


class Runner:
    """Runs the stack's curation state machine over one local lake."""

    def __init__(self, lake, athena: local_athena.LocalAthena | None = None, time_scale: float = 0.001,
                 max_wait: float = 0.1,
                 clock: Callable[[], dt.datetime] | None = None):
        self.lake = lake
        self.athena = athena or local_athena.LocalAthena(lake)
        self.time_scale = time_scale
        self.max_wait = max_wait
        self.clock = clock
        # (execution ARN, state, query id) of every query an Athena task
        # started, so each execution's report names its own queries.
        self.started_queries: list[tuple[str, str, str]] = []
        self.workflow = lake.workflow
        self._mock = None

    def wait_time(self, seconds: float) -> float:
        """How long a Wait state of `seconds` lasts here (module doc)."""
        return min(seconds / 100, self.max_wait)

    # ------------------------------------------------------- lifecycle --
    def __enter__(self) -> "Runner":
        from moto import mock_aws

        definition = self.workflow.definition_json()
        validate(json.loads(definition))
        moto_patch.bridge_step_functions()
        # The interpreter logs a failing state as a warning on stderr; the
        # execution history (the report) says the same, with the cause.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}.items():
            os.environ.setdefault(k, v)
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        moto_patch.active_runner = self
        import boto3

        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        self.table = self.workflow.substitutions["LockTable"]
        self.dynamodb.create_table(
            TableName=self.table,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self._load_lock_item()
        self.machine = self.sfn.create_state_machine(
            name=f"{self.workflow.substitutions['StackName']}-curation",
            definition=definition,
            roleArn=ROLE,
            type="STANDARD",
        )["stateMachineArn"]
        return self

    def __exit__(self, *exc):
        try:
            self._save_lock_item()
        finally:
            moto_patch.active_runner = None
            self._mock.stop()

    # --------------------------------------------------------- the lock --
    def _load_lock_item(self):
        values = curated.RunState.load(self.lake.dir).values
        if not values:
            return
        item = {"id": {"S": "curation"}}
        item.update({k: {"S": str(v)} for k, v in values.items() if isinstance(v, str)})
        self.dynamodb.put_item(TableName=self.table, Item=item)

    def _save_lock_item(self):
        state = curated.RunState.load(self.lake.dir)
        state.values = self.lock_item()
        state.save()

    def cloudwatch(self):
        """moto's CloudWatch, where the workflow publishes its metrics."""
        import boto3

        return boto3.client("cloudwatch", region_name=REGION)

    def lock_item(self) -> dict[str, str]:
        """The lock item's text attributes (holder, since, late_since)."""
        item = self.dynamodb.get_item(TableName=self.table, Key={"id": {"S": "curation"}}, ConsistentRead=True).get("Item", {})
        return {k: v["S"] for k, v in item.items() if k != "id" and "S" in v}

    # -------------------------------------------------------- executions --
    def start(self, run_input: dict, name: str | None = None) -> str:
        # No refresh of the raw lake here: each query LocalAthena runs over
        # it refreshes it first, under the engine's lock.
        name = name or f"local-{int(time.time() * 1000)}-{len(self.started_queries)}"
        return self.sfn.start_execution(stateMachineArn=self.machine, name=name, input=json.dumps(run_input))["executionArn"]

    def _execution(self, arn: str):
        """moto's execution object: its description and history read
        without a round trip through botocore and moto's serializer, which
        for a history of a few thousand events costs more than the run."""
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        return stepfunctions_parser_backends[ACCOUNT][REGION].describe_execution(arn)

    def wait(self, arn: str, timeout: float = 3600, on_line: Callable[[str], None] | None = None) -> Execution:
        """The execution's report once it ended; `on_line` is given each of
        its report's lines as soon as its state has ended. One whose
        history passes Step Functions' quota is stopped there and reported
        FAILED with HISTORY_QUOTA_ERROR, as AWS fails it."""
        deadline = time.time() + timeout
        checked = time.time()
        over_quota = 0
        told = 0
        while True:
            described = dict(self._execution(arn).to_describe_output())
            if described["status"] in ENDED:
                break
            if on_line is not None:
                lines = self._report(arn, described).final_lines()
                for line in lines[told:]:
                    on_line(line)
                told = max(told, len(lines))
            if time.time() > deadline:
                raise local_athena.QueryFailed(f"execution {arn} still {described['status']} after {timeout} s")
            if time.time() - checked > 1:
                checked = time.time()
                events = len(self._execution(arn).to_history_output()["events"])
                if events > HISTORY_QUOTA:
                    over_quota = events
                    self.sfn.stop_execution(executionArn=arn, error=HISTORY_QUOTA_ERROR)
            time.sleep(0.1)
        out = self._report(arn, described)
        if on_line is not None:
            for line in out.lines()[told:]:
                on_line(line)
        if over_quota:
            out.status, out.error = "FAILED", HISTORY_QUOTA_ERROR
            out.cause = (f"its history passed {over_quota:,} events; Step Functions fails an execution at "
                         f"{HISTORY_QUOTA:,} (Step Functions service quotas)")
        return out

    def run(self, run_input: dict, name: str | None = None, at: dt.datetime | None = None,
            on_line: Callable[[str], None] | None = None) -> Execution:
        """One execution, to its end; `at` is its start time (default: now)."""
        saved = self.clock
        if at is not None:
            self.clock = lambda: at
        try:
            return self.wait(self.start(run_input, name), on_line=on_line)
        finally:
            self.clock = saved

    def _report(self, arn: str, described: dict) -> Execution:
        """The execution's history as one line per state entered and one per
        Athena query (a retry is a line of its own), with what each query
        did and why a task failed."""
        history = self._execution(arn).to_history_output()["events"]
        status = described["status"]
        out = Execution(arn=arn, status=getattr(status, "value", status), error=described.get("error"),
                        cause=described.get("cause"))
        by_state: dict[str, list[str]] = {}
        for execution, state, query_id in self.started_queries:
            if execution == arn:
                by_state.setdefault(state, []).append(query_id)
        state, attempts = "", 0
        for event in history:
            entered = event.get("stateEnteredEventDetails")
            if entered:
                state, attempts = entered["name"], 0
                final = {"SucceedStateEntered": "succeeded", "FailStateEntered": "failed"}.get(event["type"], "")
                shown = event["type"] in ("TaskStateEntered", "SucceedStateEntered", "FailStateEntered")
                out.steps.append(Step(state, final, shown))
                continue
            scheduled = event.get("taskScheduledEventDetails")
            if scheduled and scheduled.get("resourceType") == "athena" and scheduled.get("resource") in (
                    "getQueryExecution", "getQueryResults", "stopQueryExecution"):
                # A poll of a query, or reading its answer: part of the
                # state that started it.
                out.steps[-1].shown = scheduled.get("resource") == "stopQueryExecution"
                continue
            if scheduled and scheduled.get("resourceType") == "athena":
                attempts += 1
                queries = by_state.get(state) or []
                query = self.athena.queries[queries.pop(0)] if queries else None
                detail = (query.detail or query.state.lower()) if query else ""
                if query and query.state in ("FAILED", "CANCELLED"):
                    detail = f"{query.state.lower()}: {query.reason}"
                out.inserted += query.rows_inserted if query else 0
                if query and query.state in ("QUEUED", "RUNNING"):
                    out.steps[-1].pending = True
                if attempts == 1:
                    out.steps[-1].detail = detail
                else:
                    out.steps.append(Step(f"{state} (retry {attempts - 1})", detail))
                continue
            failed = event.get("taskFailedEventDetails") or event.get("taskTimedOutEventDetails")
            if failed and out.steps:
                reason = failed.get("cause", "")
                try:
                    reason = json.loads(reason)["QueryExecution"]["Status"].get("StateChangeReason", reason)
                except (ValueError, KeyError, TypeError):
                    pass
                out.steps[-1].detail += f"; failed: {failed.get('error')}" + (f": {str(reason)[:300]}" if reason else "")
        out.history_events = len(history)
        output = json.loads(described.get("output") or "null")
        output = output if isinstance(output, dict) else {}
        window = output.get("window")
        if isinstance(window, dict) and "first_day" in window:
            # Caught up: the window reaches today and no block of it is left.
            out.window = Window(window["first_day"]["VarCharValue"], window["end_day"]["VarCharValue"],
                                window["caught_up"]["VarCharValue"] == "true" and "blocks_left" not in output)
        out.continuation = (output.get("continuation") or {}).get("ExecutionArn")
        return out


class InjectedFailure(Exception):
    """A run failed because `curate(fail_at=...)` asked it to."""

    def __init__(self, message: str, execution: Execution):
        super().__init__(message)
        self.execution = execution


FAIL_POINTS = ("before-commit", "after-insert")
# The query the injected failures hit: every INSERT of the run.
_FAILING_QUERY_MARKER = "INSERT INTO chat_events_curated"
# A bound on the runs of one `curate()`: a year's backlog takes about a
# dozen at the default MaxArrivalDaysPerRun.
MAX_RUNS = 200


def curate(lake, maintenance: bool = False, today: dt.date | None = None, fail_at: str | None = None,
           runner: Runner | None = None, since: dt.date | None = None,
           progress: Callable[[str], None] | None = None) -> Execution:
    """Runs of the stack's curation state machine over `lake`, started at
    noon UTC of `today` (default: now), until one has caught up (a backlog
    longer than MaxArrivalDaysPerRun takes several runs, each bounded, as
    the hourly schedule would run them); returns the last, the others in
    its `earlier`. `fail_at` makes every INSERT fail, before or after its
    commit, so the run fails after its retries (InjectedFailure), as a query
    failing in Athena would; the next run reads the same window again.
    `since` re-curates from that arrival day (the execution input
    {"since": "yyyymmdd"}), in the first run only. `progress`, if given,
    is told each execution as it starts and each of its report's lines as
    its state ends, and each execution's history size."""
    at = dt.datetime.combine(today, dt.time(12), tzinfo=dt.timezone.utc) if today else None
    if runner is None:
        with Runner(lake) as own:
            return curate(lake, maintenance, today, fail_at, own, since, progress)
    line = (lambda text: progress(f"  {text}")) if progress else None

    def ended(execution: Execution) -> Execution:
        if progress:
            progress(f"  history: {execution.history_events:,} events (Step Functions' quota: {HISTORY_QUOTA:,})")
        return execution
    injection = None
    if fail_at:
        if fail_at not in FAIL_POINTS:
            raise ValueError(f"fail_at {fail_at!r}: one of {FAIL_POINTS}")
        injection = local_athena.Injection(_FAILING_QUERY_MARKER, after_commit=fail_at == "after-insert")
        runner.athena.injections.append(injection)
    try:
        run_input: dict = {"maintenance": maintenance}
        if since is not None:
            run_input["since"] = since.strftime("%Y%m%d")
        earlier: list[Execution] = []
        if progress:
            progress("execution 1:")
        execution = ended(runner.run(run_input, at=at, on_line=line))
        while execution.status == "SUCCEEDED" and execution.window and not execution.window.caught_up:
            if len(earlier) + 1 >= MAX_RUNS:
                raise local_athena.QueryFailed(f"still not caught up after {MAX_RUNS} runs: {execution.window}")
            earlier.append(execution)
            if execution.continuation:
                # The run started its own continuation (blocks left in its
                # window), as on AWS: wait for that one.
                if progress:
                    progress(f"execution {len(earlier) + 1}, started by the one before (ContinueRun: blocks left in {execution.window}):")
                execution = ended(runner.wait(execution.continuation, on_line=line))
            else:
                # A window behind today: the next scheduled run goes on.
                if progress:
                    progress(f"execution {len(earlier) + 1}, as the next scheduled run (the last read {execution.window}):")
                execution = ended(runner.run({"maintenance": maintenance}, at=at, on_line=line))
        execution.earlier = earlier
    finally:
        if injection:
            runner.athena.injections.remove(injection)
    if fail_at:
        if execution.status == "SUCCEEDED":
            raise local_athena.QueryFailed(f"the injected failure {fail_at} did not fail the run")
        failed = next((f"{step.state}: {step.detail}" for step in execution.steps if "failed:" in step.detail), "")
        raise InjectedFailure(f"the run failed as asked ({fail_at}): {failed}; the execution ended {execution.error}",
                              execution)
    return execution
