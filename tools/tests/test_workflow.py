"""The curation state machine's own definition, run here by moto's Step
Functions interpreter (tools/workflow.py), with Athena's limits
(tools/local_athena.py):

- a definition error fails here as it would on AWS;
- Athena refuses what it refuses: an INSERT writing more than 100 event
  days, an execution parameter outside WHERE, a DML past its timeout; and a
  refused INSERT commits nothing;
- the lock: a run that finds another running skips; a holder that released
  the lock between our write and our read does not fail the run
  (States.Runtime is not caught by States.ALL: the definition must test with
  IsPresent).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import engine  # noqa: E402
import local_athena  # noqa: E402
import synthetic_lake  # noqa: E402
import workflow  # noqa: E402

TODAY = dt.datetime.now(dt.timezone.utc).date()


def small_lake(directory: Path, days: int = 2, per_day: int = 40, start: dt.date | None = None) -> engine.Lake:
    start = start or TODAY - dt.timedelta(days=days - 1)
    for i in range(days):
        for obj in synthetic_lake.objects_of(start + dt.timedelta(days=i), per_day, seed=11):
            synthetic_lake.write(directory, obj)
    return engine.Lake(directory, {"LakeStartDate": start.isoformat()})


class Definition(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="workflow-")
        self.lake = small_lake(Path(self.dir.name))

    def tearDown(self):
        self.dir.cleanup()

    def test_the_definition_as_written_curates_every_event(self):
        execution = workflow.curate(self.lake, maintenance=True)
        self.assertEqual(execution.status, "SUCCEEDED", execution.lines())
        states = [s.state for s in execution.steps]
        for state in ("AcquireLock", "CreateTable", "InsertNewEvents", "InsertLateEvents", "CompactSmallFiles",
                      "ExpireSnapshotsAndOrphans", "RecordMaintenanceWatermark", "PublishRun"):
            self.assertIn(state, states)
        _, ((rows, events),) = self.lake.run(
            "SELECT (SELECT count(*) FROM chat_events_curated), (SELECT count(DISTINCT event_id) FROM chat_events)")
        self.assertEqual(rows, events)
        # Every commit carries Iceberg's standard snapshot summary.
        table = self.lake.catalog.load(self.lake.definition.name)
        for snapshot in table.snapshots():
            summary = snapshot.summary.additional_properties
            for key in ("changed-partition-count", "total-records", "total-data-files"):
                self.assertIn(key, summary, f"snapshot {snapshot.snapshot_id}: {summary}")

    def test_a_start_at_that_names_no_state_is_refused(self):
        self.lake.workflow.definition = copy.deepcopy(self.lake.workflow.definition)
        self.lake.workflow.definition["StartAt"] = "NoSuchState"
        with self.assertRaises(workflow.InvalidDefinition) as caught:
            with workflow.Runner(self.lake):
                pass
        self.assertIn("MISSING_TRANSITION_TARGET: StartAt 'NoSuchState'", str(caught.exception))

    def test_a_missing_path_fails_the_run(self):
        definition = copy.deepcopy(self.lake.workflow.definition)
        definition["States"]["AcquireLock"]["ResultSelector"]["since.$"] = "$.Attributes.no_such_attribute.S"
        self.lake.workflow.definition = definition
        execution = workflow.curate(self.lake)
        self.assertEqual(execution.status, "FAILED")
        self.assertNotIn("InsertNewEvents", [s.state for s in execution.steps])

    def test_a_next_that_leaves_states_unreachable_is_refused(self):
        definition = copy.deepcopy(self.lake.workflow.definition)
        definition["States"]["CreateTable"]["Next"] = "RecordWatermark"
        self.lake.workflow.definition = definition
        with self.assertRaises(workflow.InvalidDefinition) as caught:
            workflow.curate(self.lake)
        self.assertIn("UNREACHABLE_STATE: InsertNewEvents", str(caught.exception))

    def test_a_wrong_choice_changes_what_runs(self):
        definition = copy.deepcopy(self.lake.workflow.definition)
        definition["States"]["IsMaintenanceRun"]["Choices"][0]["BooleanEquals"] = False
        self.lake.workflow.definition = definition
        execution = workflow.curate(self.lake, maintenance=False)
        self.assertEqual(execution.status, "SUCCEEDED")
        self.assertIn("CompactSmallFiles", [s.state for s in execution.steps], "an hourly run now maintains")


class AthenaLimits(unittest.TestCase):
    def test_an_insert_of_more_than_100_event_days_fails_and_commits_nothing(self):
        with tempfile.TemporaryDirectory(prefix="partitions-") as d:
            lake_dir = Path(d)
            # 105 arrival days: one INSERT would write 105 event days.
            lake = small_lake(lake_dir, days=105, per_day=3)
            with workflow.Runner(lake) as runner:
                athena = runner.athena
                create = athena.start_query_execution(lake.workflow.query("CreateTable"))
                self._wait(athena, create)
                first_day = lake.parameters["LakeStartDate"].replace("-", "")
                insert = athena.start_query_execution(
                    lake.workflow.query("InsertNewEvents").replace("-10, date_parse", "-200, date_parse"),
                    [first_day, "0", TODAY.strftime("%Y%m%d"), first_day, first_day],
                )
                q = self._wait(athena, insert)
            self.assertEqual(q["Status"]["State"], "FAILED")
            self.assertIn("HIVE_TOO_MANY_OPEN_PARTITIONS", q["Status"]["StateChangeReason"])
            table = lake.catalog.load(lake.definition.name)
            self.assertIsNone(table.current_snapshot(), "nothing committed")

    def test_an_execution_parameter_outside_where_is_refused(self):
        with self.assertRaises(local_athena.QueryFailed) as caught:
            local_athena.check_parameters("SELECT ? AS x FROM chat_events WHERE dt = ?", ["1", "2"])
        self.assertIn("outside a WHERE", str(caught.exception))
        local_athena.check_parameters("SELECT 1 FROM chat_events WHERE dt = ? AND dt < ?", ["1", "2"])
        with self.assertRaises(local_athena.QueryFailed):
            local_athena.check_parameters("SELECT 1 FROM chat_events WHERE dt = ?", [])

    def test_a_dml_past_its_timeout_fails_without_committing(self):
        with tempfile.TemporaryDirectory(prefix="timeout-") as d:
            lake = small_lake(Path(d))
            athena = local_athena.LocalAthena(lake, dml_timeout_seconds=0.01)
            athena.injections.append(local_athena.Injection("INSERT INTO", delay=0.05, fail=False))
            with workflow.Runner(lake, athena=athena) as runner:
                execution = runner.run({"maintenance": False})
            self.assertEqual(execution.status, "FAILED")
            self.assertTrue(any("DML timeout" in s.detail for s in execution.steps), execution.lines())
            self.assertIsNone(lake.catalog.load(lake.definition.name).current_snapshot())

    @staticmethod
    def _wait(athena: local_athena.LocalAthena, query_id: str) -> dict:
        while True:
            q = athena.get_query_execution(query_id)["QueryExecution"]
            if q["Status"]["State"] not in ("QUEUED", "RUNNING"):
                return q
            time.sleep(0.02)


class Lock(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="lock-")
        self.lake = small_lake(Path(self.dir.name))

    def tearDown(self):
        self.dir.cleanup()

    def _second_while_first_runs(self, second_input: dict):
        """An hourly run whose INSERT takes a second, and a second run
        started half-way through it; both to their end, and the metrics the
        workflow published."""
        athena = local_athena.LocalAthena(self.lake)
        athena.injections.append(local_athena.Injection("INSERT INTO", delay=1.0, fail=False, times=1))
        with workflow.Runner(self.lake, athena=athena) as runner:
            first = runner.start({"maintenance": False}, name="first")
            time.sleep(0.5)
            second = runner.run(second_input, name="second")
            first = runner.wait(first)
            metrics = {m["MetricName"] for m in runner.cloudwatch().list_metrics(Namespace="ChatPipeline")["Metrics"]}
        self.assertEqual(first.status, "SUCCEEDED", first.lines())
        self.assertEqual(second.status, "SUCCEEDED", second.lines())
        # Each execution reports its own queries: together they inserted
        # exactly the table's rows.
        ((rows,),) = self.lake.run("SELECT count(*) FROM chat_events_curated")[1]
        self.assertEqual(first.inserted + second.inserted, rows, (first.lines(), second.lines()))
        return second, metrics

    def test_a_run_that_finds_another_running_skips_and_inserts_nothing_twice(self):
        second, _ = self._second_while_first_runs({"maintenance": False})
        self.assertIn("SkipRun", [s.state for s in second.steps])
        _, ((rows, keys),) = self.lake.run(
            "SELECT count(*), count(DISTINCT (event_id, occurred_at)) FROM chat_events_curated")
        self.assertEqual(rows, keys)

    def test_the_daily_run_waits_for_a_held_lock_then_maintains_and_says_so(self):
        daily, metrics = self._second_while_first_runs({"maintenance": True})
        states = [s.state for s in daily.steps]
        self.assertIn("WaitForLock", states)
        self.assertNotIn("SkipRun", states)
        self.assertIn("CompactSmallFiles", states)
        self.assertIn("CurationMaintenanceRuns", metrics)

    def test_the_daily_run_fails_loudly_when_the_lock_never_frees(self):
        start = self.lake.parameters["LakeStartDate"].replace("-", "")
        with workflow.Runner(self.lake) as runner:
            # A holder that keeps running: an execution that only waits.
            holder = runner.sfn.create_state_machine(
                name="holder", roleArn=workflow.ROLE,
                definition=json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100000, "End": True}}}),
            )["stateMachineArn"]
            running = runner.sfn.start_execution(stateMachineArn=holder, name="forever")["executionArn"]
            runner.dynamodb.put_item(TableName=runner.table, Item={
                "id": {"S": "curation"}, "holder": {"S": running}, "since": {"S": start}, "late_since": {"S": start}})
            daily = runner.run({"maintenance": True}, name="daily")
            runner.sfn.stop_execution(executionArn=running)
            self.assertEqual(runner.lock_item()["holder"], running, "the lock is left to its holder")
        self.assertEqual(daily.status, "FAILED", daily.lines())
        self.assertEqual(daily.error, "CurationMaintenanceSkipped")
        self.assertEqual(sum(1 for s in daily.steps if s.state == "WaitForLock"), 30)
        self.assertNotIn("InsertLateEvents", [s.state for s in daily.steps])

    def test_a_lock_released_between_our_write_and_our_read_does_not_fail_the_run(self):
        from moto.dynamodb.exceptions import ConditionalCheckFailed
        from moto.dynamodb.models import DynamoDBBackend

        original = DynamoDBBackend.update_item

        def update_item(backend, table_name, key, *args, **kwargs):
            try:
                return original(backend, table_name, key, *args, **kwargs)
            except ConditionalCheckFailed:
                # The holder releases the lock right after our conditional
                # write failed, before our read.
                table = backend.get_table(table_name)
                item = table.get_item(*backend.get_keys_value(table, key))
                if item is not None and "holder" in item.attrs:
                    del item.attrs["holder"]
                raise

        state = Path(self.dir.name) / ".curation-state.json"
        state.write_text(json.dumps({"holder": "arn:aws:states:us-east-1:123456789012:execution:gone:x",
                                     "since": self.lake.parameters["LakeStartDate"].replace("-", ""),
                                     "late_since": self.lake.parameters["LakeStartDate"].replace("-", "")}))
        DynamoDBBackend.update_item = update_item
        try:
            execution = workflow.curate(self.lake)
        finally:
            DynamoDBBackend.update_item = original
        self.assertEqual(execution.status, "SUCCEEDED", execution.lines())
        self.assertIn("InsertNewEvents", [s.state for s in execution.steps])


if __name__ == "__main__":
    unittest.main()


class LateObjects(unittest.TestCase):
    """An object written under an older arrival day than the hourly window
    reads (a replay of errors/, a re-upload, a backfill) is curated by the
    next daily run, which then counts what its window still lacks; older
    days are re-curated by naming the first day in the execution input."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="late-objects-")
        self.path = Path(self.dir.name)
        for day in (TODAY - dt.timedelta(days=1), TODAY):
            for obj in synthetic_lake.objects_of(day, 30, seed=21):
                synthetic_lake.write(self.path, obj)
        self.lake = engine.Lake(self.path, {"LakeStartDate": (TODAY - dt.timedelta(days=60)).isoformat()})
        self.assertEqual(workflow.curate(self.lake, maintenance=True).status, "SUCCEEDED")

    def tearDown(self):
        self.dir.cleanup()

    def land_late(self, days_back: int, seed: int) -> set[str]:
        """Objects of `days_back` days ago landing now; their event ids."""
        ids = set()
        for obj in synthetic_lake.objects_of(TODAY - dt.timedelta(days=days_back), 5, seed=seed):
            synthetic_lake.write(self.path, obj)
            ids |= {row.event.event_id for row in obj.rows}
        return ids

    def curated(self, ids: set[str]) -> int:
        listed = ", ".join(f"'{i}'" for i in sorted(ids))
        return self.lake.run(f"SELECT count(*) FROM chat_events_curated WHERE event_id IN ({listed})")[1][0][0]

    def test_an_object_six_arrival_days_late_is_curated_by_the_next_daily_run(self):
        ids = self.land_late(6, seed=31)
        hourly = workflow.curate(self.lake)
        self.assertEqual(hourly.status, "SUCCEEDED")
        self.assertEqual(self.curated(ids), 0, "the hourly window reads three days before its watermark")
        with workflow.Runner(self.lake) as runner:
            daily = workflow.curate(self.lake, maintenance=True, runner=runner)
            stats = runner.cloudwatch().get_metric_statistics(
                Namespace="ChatPipeline", MetricName="CurationUncuratedEvents",
                Dimensions=[{"Name": "Stack", "Value": "local"}],
                StartTime=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1),
                EndTime=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1), Period=3600, Statistics=["Maximum"])
        self.assertEqual(daily.status, "SUCCEEDED", daily.lines())
        self.assertEqual(self.curated(ids), len(ids))
        self.assertIn("ReconcileLateWindow          uncurated = 0", daily.lines())
        self.assertEqual([p["Maximum"] for p in stats["Datapoints"]], [0.0])

    def test_the_reconciliation_counts_what_the_window_lacks(self):
        ids = self.land_late(6, seed=41)
        sql = self.lake.workflow.query("ReconcileLateWindow")
        athena = local_athena.LocalAthena(self.lake)
        query = athena.start_query_execution(sql, ["30", TODAY.strftime("%Y%m%d"), TODAY.strftime("%Y%m%d")])
        self.assertEqual(AthenaLimits._wait(athena, query)["Status"]["State"], "SUCCEEDED")
        ((count,),) = athena.queries[query].rows
        self.assertEqual(count, len(ids))

    def test_older_days_are_recurated_by_naming_the_first_day(self):
        ids = self.land_late(40, seed=51)
        daily = workflow.curate(self.lake, maintenance=True)
        self.assertEqual(daily.status, "SUCCEEDED")
        self.assertEqual(self.curated(ids), 0, "40 days back is outside the daily window")
        since = (TODAY - dt.timedelta(days=40)).strftime("%Y%m%d")
        with workflow.Runner(self.lake) as runner:
            again = runner.run({"maintenance": True, "since": since})
        self.assertEqual(again.status, "SUCCEEDED", again.lines())
        self.assertIn("UseGivenWindow", [s.state for s in again.steps])
        self.assertEqual(self.curated(ids), len(ids))
