"""Static checks of what the curation workflow and its alarms must say,
read from statemachine/curation.asl.yaml and template.yaml as written (no
run): each would fail on the definition before issue 35's change.

- every INSERT is started with a ClientRequestToken made of the execution,
  the block and the attempt, and a later run re-issues a pending one;
- every GetQueryResults is followed by a check for a next page;
- the DynamoDB retriers name DynamoDB's own error codes, one list for all;
- VACUUM runs again while Athena asks for more runs;
- Firehose's failed or throttled invocations of the transformer page, and
  the dashboard's transformer row shows the alarm's line;
- the Glue database's name is lower case by construction;
- the schedules have a dead-letter queue, and an alarm watches it; the
  heartbeats count a missing hour against the curation.
"""

from __future__ import annotations

import json
import re
import unittest

from chat_tools import cfn_template
from chat_tools.curation import curated
from chat_tools.stack import dashboard

TEMPLATE = cfn_template.load()
MACHINE = cfn_template.resources_of_type(TEMPLATE, curated.STATE_MACHINE_TYPE)["CurationStateMachine"]
DEFINITION = cfn_template.state_machine_definition(MACHINE)
STATES = DEFINITION["States"]
RESOURCES = TEMPLATE["Resources"]


def tasks(resource_part: str) -> dict[str, dict]:
    return {name: s for name, s in STATES.items() if resource_part in s.get("Resource", "")}


class InsertToken(unittest.TestCase):
    def test_every_insert_start_carries_the_prepared_token(self):
        starts = {name: s for name, s in tasks("athena:startQueryExecution").items()
                  if not s["Resource"].endswith(".sync")}
        self.assertEqual(sorted(starts), ["InsertEvents", "ResumePendingInsert"])
        self.assertEqual(starts["InsertEvents"]["Parameters"]["ClientRequestToken.$"], "$.request.token")
        self.assertEqual(starts["ResumePendingInsert"]["Parameters"]["ClientRequestToken.$"], "$.pending.request.token")

    def test_the_token_is_made_of_the_execution_the_block_and_the_attempt(self):
        token = STATES["PrepareInsert"]["Parameters"]["token.$"]
        for part in ("$$.Execution.Id", "$.block.first_event_day.VarCharValue", "$.block.attempt"):
            self.assertIn(part, token)
        # SHA-256 in hex: 64 characters, within Athena's 32 to 128.
        self.assertIn("'SHA-256'", token)

    def test_the_request_is_written_down_before_it_starts_and_resumed_by_the_next_run(self):
        self.assertEqual(STATES["PrepareInsert"]["Next"], "RememberPendingInsert")
        self.assertEqual(STATES["RememberPendingInsert"]["Next"], "InsertEvents")
        self.assertIn("pending_insert", STATES["RememberPendingInsert"]["Parameters"]["UpdateExpression"])
        choices = STATES["HasEarlierInsert"]["Choices"]
        self.assertIn({"Variable": "$.lock.item.pending_insert.S", "IsPresent": True, "Next": "ReadPendingInsert"}, choices)
        # A retried start is safe only with the token: it retries on
        # Athena's server errors.
        retried = {e for r in STATES["InsertEvents"]["Retry"] for e in r["ErrorEquals"]}
        self.assertIn("Athena.InternalServerException", retried)


class ResultPages(unittest.TestCase):
    def test_every_read_of_results_checks_for_a_next_page(self):
        reads = tasks("athena:getQueryResults")
        self.assertGreaterEqual(len(reads), 4)
        for name, state in reads.items():
            with self.subTest(state=name):
                result = state["ResultPath"]
                self.assertEqual(state["ResultSelector"].get("page.$"), "$", "the page kept whole")
                after = STATES[state["Next"]]
                self.assertEqual(after["Type"], "Choice")
                first = after["Choices"][0]
                self.assertEqual(first, {"Variable": f"{result}.page.NextToken", "IsPresent": True,
                                         "Next": "ResultsTruncated"})


class DynamoDBErrors(unittest.TestCase):
    def test_the_retriers_name_dynamodbs_error_codes_one_list_for_all(self):
        lists = set()
        for name, state in tasks("dynamodb:").items():
            for retrier in state.get("Retry", []):
                lists.add(tuple(retrier["ErrorEquals"]))
        self.assertEqual(len(lists), 1, lists)
        (names,) = lists
        self.assertIn("DynamoDB.InternalServerError", names)
        self.assertIn("DynamoDB.ProvisionedThroughputExceededException", names)
        self.assertFalse([n for n in names if n.endswith("InternalServerErrorException")],
                         "DynamoDB's code is InternalServerError")

    def test_every_lock_write_accepts_its_own_retry(self):
        for name in ("AcquireLock", "TakeOverLock"):
            self.assertIn("holder = :me", STATES[name]["Parameters"]["ConditionExpression"], name)


class Vacuum(unittest.TestCase):
    def test_vacuum_runs_again_while_athena_asks_for_more_runs(self):
        vacuum = STATES["ExpireSnapshotsAndOrphans"]
        (on_failure,) = [c for c in vacuum["Catch"] if c["ErrorEquals"] == ["States.TaskFailed"]]
        choice = STATES[on_failure["Next"]]
        more = choice["Choices"][0]["And"]
        self.assertIn({"Variable": "$.vacuum_failure.Cause", "StringMatches": "*ICEBERG_VACUUM_MORE_RUNS_NEEDED*"}, more)
        again = STATES[choice["Choices"][0]["Next"]]
        self.assertEqual(again["Next"], "ExpireSnapshotsAndOrphans")
        bound = [c for c in more if "NumericLessThan" in c]
        self.assertEqual(bound[0]["NumericLessThan"], 20)


class ExecutionBounds(unittest.TestCase):
    def test_an_execution_does_at_most_ten_blocks_and_plans_one_more(self):
        self.assertIn("LIMIT 11", STATES["PlanInserts"]["Parameters"]["QueryString"])
        (both,) = STATES["HasNextBlock"]["Choices"]
        self.assertIn({"Variable": "$.loop.next", "NumericLessThanEquals": 10}, both["And"])
        self.assertEqual(STATES["HasMoreBlocks"]["Choices"][0],
                         {"Variable": "$.plan.count", "NumericGreaterThan": 11, "Next": "PickNextBlock"})

    def test_no_run_takes_an_event_two_days_or_more_after_its_day(self):
        sql = STATES["PlanInserts"]["Parameters"]["QueryString"]
        self.assertIn("occurred_at < date_add('day', 2, date_parse(CAST(? AS varchar), '%Y%m%d'))", sql)
        self.assertEqual(STATES["PlanInserts"]["Parameters"]["ExecutionParameters.$"].split(", ")[-1], "$.run.today)")

    def test_a_stuck_execution_times_out(self):
        self.assertEqual(DEFINITION["TimeoutSeconds"], 86400)
        alarm = RESOURCES["CurationTimedOutAlarm"]["Properties"]
        self.assertEqual((alarm["Namespace"], alarm["MetricName"]), ("AWS/States", "ExecutionsTimedOut"))


def alarms_on(namespace: str, metric: str) -> list[dict]:
    return [r["Properties"] for r in RESOURCES.values()
            if r["Type"] == "AWS::CloudWatch::Alarm"
            and (r["Properties"].get("Namespace"), r["Properties"].get("MetricName")) == (namespace, metric)]


def dashboard_widgets() -> list[dict]:
    return dashboard.body(kinesis=True)["widgets"]


class TransformerInvocations(unittest.TestCase):
    def test_failed_or_throttled_invocations_page(self):
        (success,) = alarms_on("AWS/Firehose", "ExecuteProcessing.Success")
        self.assertEqual((success["ComparisonOperator"], success["Threshold"], success["Statistic"]),
                         ("LessThanThreshold", 1, "Minimum"))
        (throttles,) = alarms_on("AWS/Lambda", "Throttles")
        self.assertEqual(throttles["Dimensions"][0]["Value"], {"Ref": "TransformerFunction"})

    def test_the_transformer_row_shows_the_alarms_line(self):
        widgets = dashboard_widgets()
        row = next(i for i, w in enumerate(widgets) if "### 4. Transformer" in w["properties"].get("markdown", ""))
        following = widgets[row + 1:]
        end = next(i for i, w in enumerate(following) if w["type"] == "text")
        ratio = [w for w in following[:end]
                 if any(m[:2] == ["AWS/Firehose", "ExecuteProcessing.Success"] for m in w["properties"].get("metrics", []))]
        self.assertEqual(len(ratio), 1, "the ratio's graph is in the transformer's row")
        lines = ratio[0]["properties"]["annotations"]["horizontal"]
        self.assertEqual(lines[0]["value"], 1)
        self.assertIn("TransformerInvocationsFailedAlarm", lines[0]["label"])


class DatabaseName(unittest.TestCase):
    def test_the_name_is_lower_case_by_construction(self):
        parameter = TEMPLATE["Parameters"]["GlueDatabaseName"]
        pattern = re.compile(parameter["AllowedPattern"])
        for name in ("chat_pipeline_staging", "", "_x1"):
            self.assertTrue(pattern.fullmatch(name), name)
        for name in ("ChatTest", "chat-test", "chat test", "1chat"):
            self.assertFalse(pattern.fullmatch(name), name)
        name = RESOURCES["EventsDatabase"]["Properties"]["DatabaseInput"]["Name"]
        self.assertNotIn("AWS::StackName", json.dumps(name), "the stack name may hold capitals")
        self.assertIn("AWS::StackId", json.dumps(name), "the default is the stack id's lower-case hex")

    def test_the_workflow_names_the_database_only_through_its_substitution(self):
        text = json.dumps(DEFINITION)
        self.assertNotIn("information_schema", text)
        self.assertEqual(MACHINE["Properties"]["DefinitionSubstitutions"]["Database"], {"Ref": "EventsDatabase"})


class Schedules(unittest.TestCase):
    def test_each_schedule_has_the_dead_letter_queue_an_alarm_watches(self):
        events = MACHINE["Properties"]["Events"]
        self.assertEqual(sorted(events), ["DailyMaintenance", "HourlyCuration"])
        for name, event in events.items():
            self.assertEqual(event["Properties"]["DeadLetterConfig"]["Arn"],
                             {"Fn::GetAtt": ["CurationScheduleDeadLetterQueue", "Arn"]}, name)
        (alarm,) = [a for a in alarms_on("AWS/SQS", "ApproximateNumberOfMessagesVisible")
                    if a["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["CurationScheduleDeadLetterQueue", "QueueName"]}]
        self.assertEqual(alarm["Threshold"], 0)

    def test_the_heartbeats_count_a_missing_hour_against_the_curation(self):
        for metric in ("CurationRuns", "CurationMaintenanceRuns"):
            (alarm,) = alarms_on("ChatPipeline", metric)
            self.assertEqual(alarm["TreatMissingData"], "breaching", metric)
            self.assertEqual(alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"], metric)
        # A run that finds another running still says the curation lives.
        self.assertIn("cloudwatch:putMetricData", STATES["SkipRun"]["Resource"])


if __name__ == "__main__":
    unittest.main()
