"""The one place moto is changed: where moto 5.2.5 differs from AWS in a
way the pipeline's local runs would notice, the smallest patch that makes it
behave as AWS does. Each is installed by the process that needs it, once.

1. `fix_kinesis_race()`, in the emulator's process (chat_tools.emulator):
   moto 5.2.5's `Shard.put_record` reads the highest sequence number, adds
   one and then assigns, with the comment "this function is not safe for
   concurrency"; moto_server answers on threads, so concurrent PutRecords
   calls on one shard give two records the same sequence number and the
   later overwrites the earlier: records acknowledged with a sequence number
   are gone, and the survivors' numbers are unbroken (docs/testing.md,
   "moto's Kinesis race", written as an upstream report). The producer keeps
   several batches in flight, so the demo lost up to 3.9 % of its events.
   Here a lock makes the read and the assignment one step, and the next
   number is kept per shard instead of being found by listing every record
   (moto's `list(keys)[-1]` makes each put cost as much as the shard's
   length, so a long demo slowed down tick by tick).

2. `bridge_step_functions()`, in curation's process
   (chat_tools.curation.workflow): moto's Step Functions interpreter (it is
   LocalStack's ASL interpreter, maintained in moto) runs the curation
   definition; what it lacks or does differently from AWS is bridged, each
   gap where it is patched below:
   - Athena: moto lists it as unsupported. `AthenaSync` implements
     `startQueryExecution(.sync)` as Step Functions does: StartQueryExecution,
     then GetQueryExecution until the query ends; a FAILED query fails the
     task with States.TaskFailed and the query execution as the cause.
   - `$$.Execution.StartTime` reaches the definition as a Python datetime;
     AWS passes an ISO 8601 string ("2026-12-03T10:15:00.123Z"), which the
     definition splits. The runner passes that string, from its clock.
   - Retry intervals and Wait states are slept for real by the interpreter;
     here retry intervals are scaled by the runner's `time_scale`, and a Wait
     state lasts the runner's `wait_time` of its seconds.
   - moto's aws-sdk integration, and its optimized Step Functions one
     (states:startExecution), pass PascalCase parameters to boto3 as they
     are and hand boto3's answer on as it is; Step Functions maps both.
   - moto's States.ALL also catches States.Runtime and
     States.DataLimitExceeded, which on AWS always fail the execution.
   - moto parses the definition with ANTLR on every execution; the parse
     tree is kept per definition text.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

# ------------------------------------------------------------- Kinesis --
_SHARD_LOCK = threading.Lock()
# moto's kinesis Record class, set by fix_kinesis_race (moto is imported only
# by the processes that patch it).
_record_type: Any = None


def _put_record(self: Any, partition_key: str, data: str, explicit_hash_key: str) -> str:
    """moto's Shard.put_record, with the read of the last sequence number and
    the assignment of the next one under one lock."""
    with _SHARD_LOCK:
        last = getattr(self, "_chat_pipeline_last_sequence", None)
        if last is None:
            last = self.get_max_sequence_number() if self.records else 0
        sequence_number = last + 1
        self._chat_pipeline_last_sequence = sequence_number
        self.records[sequence_number] = _record_type(partition_key, data, sequence_number, explicit_hash_key)
    return str(sequence_number)


def fix_kinesis_race() -> None:
    """moto's Shard.put_record replaced by `_put_record` (the module doc, 1)."""
    global _record_type
    from moto.kinesis import models as kinesis_models

    _record_type = kinesis_models.Record
    kinesis_models.Shard.put_record = _put_record


# ------------------------------------------------------ Step Functions --
_installed = False
_install_lock = threading.Lock()
# The curation runner whose Athena, clock and time scale the patched
# interpreter uses (chat_tools.curation.workflow.Runner sets it while it runs).
active_runner: Any = None


def iso_start(t: dt.datetime) -> str:
    """A time as Step Functions writes `$$.Execution.StartTime`."""
    t = t.astimezone(dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def bridge_step_functions():
    """Patches moto's interpreter where it differs from AWS (see the module
    doc); idempotent."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
            state_task_service_factory as factory,
        )
        from moto.stepfunctions.parser.backend import execution_worker

        original_factory = factory.state_task_service_for

        def service_for(service_name: str):
            if service_name == "athena":
                return _athena_service()
            return original_factory(service_name)

        factory.state_task_service_for = service_for
        # The task state module imported the name before we replaced it.
        from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory

        if hasattr(state_task_factory, "state_task_service_for"):
            state_task_factory.state_task_service_for = service_for

        original_data = execution_worker.ExecutionData

        def execution_data(**kwargs):
            start = kwargs.get("StartTime")
            runner = active_runner
            if runner is not None and runner.clock is not None:
                start = runner.clock()
            if isinstance(start, dt.datetime):
                kwargs["StartTime"] = iso_start(start)
            return original_data(**kwargs)

        execution_worker.ExecutionData = execution_data

        # aws-sdk integrations take PascalCase parameter names whatever the
        # service's own casing ("ExecutionArn" for sfn's executionArn; Step
        # Functions Developer Guide, "AWS SDK service integrations"); moto
        # 5.2.5 hands them to boto3 unconverted, which then fails with a
        # KeyError (States.Runtime). Map each name to the operation's member
        # as moto's own _to_boto_request does for optimized integrations.
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
            state_task_service_aws_sdk as aws_sdk,
        )

        original_sdk_call = aws_sdk.StateTaskServiceAwsSdk._eval_service_task

        def sdk_call(self, env, resource_runtime_part, normalised_parameters, state_credentials):
            import botocore.session

            model = botocore.session.get_session().get_service_model(self._get_boto_service_name())
            action = self.resource.api_action
            operation = model.operation_model(action[:1].upper() + action[1:])
            if operation.input_shape is not None:
                self._to_boto_request(normalised_parameters, operation.input_shape)
            original_sdk_call(self, env, resource_runtime_part, normalised_parameters, state_credentials)
            # And the answer as Step Functions hands it on: PascalCase keys,
            # timestamps as ISO 8601 text (moto 5.2.5 passes boto3's dict,
            # whose datetimes the execution history cannot even serialize).
            env.stack.append(_sfn_cased(env.stack.pop()))

        aws_sdk.StateTaskServiceAwsSdk._eval_service_task = sdk_call

        # The optimized Step Functions integration
        # (arn:aws:states:::states:startExecution, the workflow's
        # ContinueRun) has the same gap in moto 5.2.5: its parameters reach
        # boto3 in PascalCase (a KeyError, States.Runtime) and boto3's answer
        # comes back as it is. Mapped the same way; the answer as Step
        # Functions gives it ({"ExecutionArn": ..., "StartDate": ...}).
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
            state_task_service_sfn as sfn_service,
        )

        original_sfn_call = sfn_service.StateTaskServiceSfn._eval_service_task

        def sfn_call(self, env, resource_runtime_part, normalised_parameters, state_credentials):
            import botocore.session

            model = botocore.session.get_session().get_service_model("stepfunctions")
            action = self.resource.api_action
            operation = model.operation_model(action[:1].upper() + action[1:])
            if operation.input_shape is not None and any(k[:1].isupper() for k in normalised_parameters):
                self._to_boto_request(normalised_parameters, operation.input_shape)
            original_sfn_call(self, env, resource_runtime_part, normalised_parameters, state_credentials)
            env.stack.append(_sfn_cased(env.stack.pop()))

        sfn_service.StateTaskServiceSfn._eval_service_task = sfn_call

        # States.ALL catches every error but States.Runtime and
        # States.DataLimitExceeded, which always fail the execution (Step
        # Functions Developer Guide, "Handling errors in Step Functions
        # workflows"); moto 5.2.5's States.ALL matches them too, so a
        # definition that relied on catching them would pass here and fail
        # on AWS.
        from moto.stepfunctions.parser.asl.component.common.error_name import error_equals_decl
        from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
        from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
            StatesErrorNameType,
        )

        uncatchable = [
            StatesErrorName(typ=StatesErrorNameType.StatesRuntime),
            StatesErrorName(typ=StatesErrorNameType.StatesStatesDataLimitExceeded),
        ]
        original_equals = error_equals_decl.ErrorEqualsDecl._eval_body

        def error_equals(self, env):
            error_name = env.stack[-1]
            original_equals(self, env)
            if env.stack[-1] and error_name in uncatchable and error_name not in self.error_names:
                env.stack[-1] = False

        error_equals_decl.ErrorEqualsDecl._eval_body = error_equals

        class ScaledTime:
            """`time` for the retrier, its sleeps scaled."""

            def __getattr__(self, name):
                return getattr(time, name)

            @staticmethod
            def sleep(seconds: float):
                runner = active_runner
                time.sleep(seconds * (runner.time_scale if runner else 1.0))

        retrier_decl.time = ScaledTime()

        from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

        def wait_interval(self, env, wait_seconds):
            runner = active_runner
            if wait_seconds > 0:
                env.program_state_event.wait(runner.wait_time(wait_seconds) if runner else wait_seconds)

        wait_function.WaitFunction._wait_interval = wait_interval

        # moto parses the definition with ANTLR on every execution, which
        # for this definition costs more than a short run itself. The parse
        # tree is kept per definition text (it is only read afterwards); the
        # evaluation components are still built fresh for each execution.
        from moto.stepfunctions.parser.asl.parse import asl_parser
        from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

        original_parse = asl_parser.AmazonStateLanguageParser.parse
        trees: dict[str, Any] = {}

        def parse(definition: str):
            tree = trees.get(definition)
            if tree is None:
                program, tree = original_parse(definition)
                trees[definition] = tree
                return program, tree
            return Preprocessor().visit(tree), tree

        asl_parser.AmazonStateLanguageParser.parse = staticmethod(parse)
        _installed = True


def _sfn_cased(value: Any) -> Any:
    """An SDK answer as an aws-sdk task returns it."""
    if isinstance(value, dict):
        return {(k[:1].upper() + k[1:]): _sfn_cased(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sfn_cased(v) for v in value]
    if isinstance(value, dt.datetime):
        return iso_start(value)
    return value


def _athena_service():
    """`AthenaSync`, built on moto's callback service base (imported late:
    moto is needed only to curate)."""
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    from chat_tools.curation import local_athena

    class AthenaSync(StateTaskServiceCallback):
        """arn:aws:states:::athena:startQueryExecution[.sync] on LocalAthena."""

        def __init__(self):
            super().__init__(supported_integration_patterns={ResourceCondition.Sync})

        def _eval_integration_pattern(self, env, resource_runtime_part, normalised_parameters, state_credentials):
            # .sync: poll GetQueryExecution until the query ends, as Step
            # Functions does. (moto's base class also waits on a task-token
            # endpoint, which a service without .waitForTaskToken never has:
            # moto 5.2.5 then calls interrupt_all() on None.)
            resolve = self._build_sync_resolver(env, resource_runtime_part, normalised_parameters, state_credentials)
            result = None
            while env.is_running():
                result = resolve()
                if result is not None:
                    break
                time.sleep(0.01)
            env.stack.append(result)

        def _get_supported_parameters(self):
            # The request parameters the Athena integration passes on (Step
            # Functions Developer Guide, "Run Athena queries with Step
            # Functions": StartQueryExecution).
            return {
                "startqueryexecution": {
                    "ClientRequestToken", "ExecutionParameters", "QueryExecutionContext", "QueryString",
                    "ResultConfiguration", "ResultReuseConfiguration", "WorkGroup",
                },
                "getqueryresults": {"QueryExecutionId", "MaxResults", "NextToken"},
                "getqueryexecution": {"QueryExecutionId"},
                "stopqueryexecution": {"QueryExecutionId"},
            }.get(self.resource.api_action.lower())

        def _athena(self) -> local_athena.LocalAthena:
            if active_runner is None:
                raise RuntimeError("no curation Runner is active")
            return active_runner.athena

        def _eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials):
            action = self._get_boto_service_action()
            athena = self._athena()
            calls = {
                "get_query_results": lambda query_id: athena.get_query_results(
                    query_id, normalised_parameters.get("NextToken"),
                    normalised_parameters.get("MaxResults", local_athena.PAGE_ROWS)),
                "get_query_execution": athena.get_query_execution,
                "stop_query_execution": athena.stop_query_execution,
            }
            if action in calls:
                try:
                    env.stack.append(calls[action](normalised_parameters["QueryExecutionId"]))
                except local_athena.InvalidRequest as e:
                    raise self._invalid_request(env, e) from e
                return
            if action != "start_query_execution":
                raise RuntimeError(f"athena:{self.resource.api_action} is not run here")
            try:
                query_id = self._athena().start_query_execution(
                    normalised_parameters["QueryString"], normalised_parameters.get("ExecutionParameters"),
                    normalised_parameters.get("ClientRequestToken"),
                )
            except local_athena.InvalidRequest as e:
                raise self._invalid_request(env, e) from e
            except local_athena.InternalServerError as e:
                raise self._athena_error(env, "Athena.InternalServerException", e) from e
            context = env.states.context_object.context_object_data
            if active_runner is not None:
                active_runner.started_queries.append((context["Execution"]["Id"], context["State"]["Name"], query_id))
            env.stack.append({"QueryExecutionId": query_id})

        def _invalid_request(self, env, e: Exception):
            """Athena's refusal of a call, as the Athena integration names an
            API's error: Athena.InvalidRequestException (Step Functions
            Developer Guide, "Handling errors")."""
            return self._athena_error(env, "Athena.InvalidRequestException", e)

        def _athena_error(self, env, error: str, e: Exception):
            return FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=CustomErrorName(error),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(
                        taskFailedEventDetails=TaskFailedEventDetails(
                            resource=self._get_sfn_resource(),
                            resourceType=self._get_sfn_resource_type(),
                            error=error,
                            cause=str(e),
                        )
                    ),
                )
            )

        def _wait_for_task_token(self, env, resource_runtime_part, normalised_parameters):
            raise RuntimeError("athena has no .waitForTaskToken integration")

        def _build_sync_resolver(self, env, resource_runtime_part, normalised_parameters, state_credentials):
            query_id = env.stack.pop()["QueryExecutionId"]
            athena = self._athena()

            def resolve() -> Any | None:
                execution = athena.get_query_execution(query_id)
                state = execution["QueryExecution"]["Status"]["State"]
                if state in ("QUEUED", "RUNNING"):
                    return None
                if state == "SUCCEEDED":
                    return execution
                raise FailureEventException(
                    FailureEvent(
                        env=env,
                        error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                        event_type=HistoryEventType.TaskFailed,
                        event_details=EventDetails(
                            taskFailedEventDetails=TaskFailedEventDetails(
                                resource=self._get_sfn_resource(),
                                resourceType=self._get_sfn_resource_type(),
                                error=StatesErrorNameType.StatesTaskFailed.to_name(),
                                cause=to_json_str(execution),
                            )
                        ),
                    )
                )

            return resolve

    return AthenaSync()
