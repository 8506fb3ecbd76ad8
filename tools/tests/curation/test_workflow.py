"""The curation state machine's own definition, run here by moto's Step
Functions interpreter (chat_tools.curation.workflow), with Athena's limits
(chat_tools.curation.local_athena):

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
import tempfile
import time
import unittest
from pathlib import Path

from chat_tools.curation import curated
from chat_tools.lake import engine
from chat_tools.curation import local_athena
from chat_tools.lake import synthetic_lake
from chat_tools.curation import workflow

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
        for state in ("AcquireLock", "CreateTable", "PlanWindow", "PlanInserts", "InsertEvents", "RememberInsert",
                      "ReconcileBlock", "CompactSmallFiles", "ExpireSnapshotsAndOrphans", "RecordMaintenanceWatermark",
                      "PublishRun"):
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
        self.assertNotIn("InsertEvents", [s.state for s in execution.steps])

    def test_a_next_that_leaves_states_unreachable_is_refused(self):
        definition = copy.deepcopy(self.lake.workflow.definition)
        definition["States"]["CreateTable"]["Next"] = "RecordWatermark"
        self.lake.workflow.definition = definition
        with self.assertRaises(workflow.InvalidDefinition) as caught:
            workflow.curate(self.lake)
        self.assertIn("UNREACHABLE_STATE: ChooseWatermark", str(caught.exception))

    def test_a_wrong_choice_changes_what_runs(self):
        definition = copy.deepcopy(self.lake.workflow.definition)
        definition["States"]["HasMoreBlocks"]["Choices"][1]["BooleanEquals"] = False
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
                tomorrow = (TODAY + dt.timedelta(days=1)).strftime("%Y%m%d")
                # The INSERT's own SQL, over every arrival and event day.
                insert = athena.start_query_execution(lake.workflow.query("PrepareInsert"), [first_day, tomorrow] * 3)
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
            first = runner.start({"maintenance": True}, name="first")
            # The second starts once the first holds the lock (its INSERT
            # then runs a second longer): however slow the machine is.
            Overlap._until(lambda: "holder" in runner.lock_item())
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
            # A holder that keeps running: an execution that waits again
            # and again (a Wait lasts at most 0.1 s here) until stopped.
            holder = runner.sfn.create_state_machine(
                name="holder", roleArn=workflow.ROLE,
                definition=json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "Next": "W"}}}),
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
        self.assertNotIn("InsertEvents", [s.state for s in daily.steps])

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
        self.assertIn("InsertEvents", [s.state for s in execution.steps])


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
        self.assertIn("ReconcileBlock               uncurated = 0, duplicated = 0", daily.lines())
        self.assertEqual([p["Maximum"] for p in stats["Datapoints"]], [0.0])

    def test_the_reconciliation_counts_what_the_window_lacks(self):
        ids = self.land_late(6, seed=41)
        sql = self.lake.workflow.query("ReconcileBlock")
        athena = local_athena.LocalAthena(self.lake)
        first = (TODAY - dt.timedelta(days=33)).strftime("%Y%m%d")
        events = ["19700101", "20800101"]  # every event day
        query = athena.start_query_execution(sql, [first, TODAY.strftime("%Y%m%d"), *events, *events, *events])
        self.assertEqual(AthenaLimits._wait(athena, query)["Status"]["State"], "SUCCEEDED")
        ((uncurated, duplicated),) = athena.queries[query].rows
        self.assertEqual((uncurated, duplicated), (len(ids), 0))

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


def keys(lake: engine.Lake) -> tuple[int, int, int]:
    """(curated rows, their distinct (event_id, occurred_at), the raw
    lake's distinct (event_id, occurred_at))."""
    _, ((rows, curated_keys, raw_keys),) = lake.run(
        "SELECT (SELECT count(*) FROM chat_events_curated), "
        "(SELECT count(DISTINCT (event_id, occurred_at)) FROM chat_events_curated), "
        "(SELECT count(DISTINCT (event_id, occurred_at)) FROM chat_events)")
    return rows, curated_keys, raw_keys


class Backlog(unittest.TestCase):
    """A backlog longer than one run's window (the first run over an
    existing lake, a long outage) is curated in bounded runs: each reads at
    most MaxArrivalDaysPerRun arrival days and moves the watermark to its
    window's end, and no INSERT writes more than Athena's 100 partitions."""

    def test_150_arrival_days_are_curated_exactly_in_bounded_runs(self):
        with tempfile.TemporaryDirectory(prefix="backlog-") as d:
            lake = small_lake(Path(d), days=150, per_day=2)
            limit = int(lake.workflow.substitutions["MaxArrivalDaysPerRun"])
            hourly = workflow.curate(lake)
            after_hourly = keys(lake)
            daily = workflow.curate(lake, maintenance=True)
            table = lake.catalog.load(lake.definition.name)
            partitions = [int(s.summary.additional_properties["changed-partition-count"])
                          for s in table.snapshots() if s.summary.operation.value == "append"]
            rows, curated_keys, raw_keys = keys(lake)
        # The hourly runs take each event once, but not the late ones (more
        # than ten days before their watermark): those are the daily run's.
        self.assertEqual(after_hourly[0], after_hourly[1])
        self.assertEqual(after_hourly[0], hourly.total_inserted)
        self.assertEqual(daily.total_inserted, raw_keys - hourly.total_inserted)
        runs = hourly.runs
        self.assertEqual([r.status for r in runs], ["SUCCEEDED"] * len(runs))
        # 150 days and the three before the first: ceil(153 / 35) runs.
        self.assertEqual(len(runs), -(-153 // limit), [str(r.window) for r in runs])
        for before, after in zip(runs, runs[1:]):
            self.assertFalse(before.window.caught_up)
            self.assertEqual(after.window.first_day, before.window.end_day, "contiguous windows")
        for run in runs:
            first = dt.datetime.strptime(run.window.first_day, "%Y%m%d")
            end = dt.datetime.strptime(run.window.end_day, "%Y%m%d")
            self.assertLessEqual((end - first).days, limit)
        self.assertTrue(runs[-1].window.caught_up)
        self.assertEqual((rows, curated_keys), (raw_keys, raw_keys), "every event once")
        self.assertEqual([r.status for r in daily.runs], ["SUCCEEDED"] * len(daily.runs))
        self.assertTrue(all("CompactSmallFiles" in [s.state for s in r.steps] for r in daily.runs))
        self.assertGreater(max(partitions), 30, "each commit wrote a run's event days")
        self.assertLessEqual(max(partitions), local_athena.PARTITION_LIMIT, partitions)


class Overlap(unittest.TestCase):
    """Never two INSERTs at once: a run that takes the lock over, or that
    gave up waiting on its INSERT, waits until that query has ended before
    it inserts (Athena queries run on after their caller is gone, and two
    overlapping Iceberg appends both commit). Each test also runs the
    definition without that wait, and sees the events land twice."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="overlap-")
        self.lake = small_lake(Path(self.dir.name))

    def tearDown(self):
        self.dir.cleanup()

    @staticmethod
    def _until(what, timeout: float = 30.0):
        deadline = time.time() + timeout
        while not what():
            if time.time() > deadline:
                raise AssertionError("timed out")
            time.sleep(0.01)

    def _takeover(self) -> workflow.Execution:
        """A run stopped while its INSERT runs (2 s), and a run that takes
        the lock over from it."""
        athena = local_athena.LocalAthena(self.lake)
        athena.injections.append(local_athena.Injection("INSERT INTO", delay=2.0, fail=False, times=1))
        with workflow.Runner(self.lake, athena=athena) as runner:
            first = runner.start({"maintenance": True}, name="first")
            self._until(lambda: "last_insert" in runner.lock_item())
            runner.sfn.stop_execution(executionArn=first)
            self._until(lambda: runner.sfn.describe_execution(executionArn=first)["status"] == "ABORTED")
            second = runner.run({"maintenance": True}, name="second")
            self._until(lambda: all(q.state not in ("QUEUED", "RUNNING") for q in athena.queries.values()))
        return second

    def test_a_takeover_waits_for_the_earlier_insert_and_inserts_nothing_twice(self):
        second = self._takeover()
        self.assertEqual(second.status, "SUCCEEDED", second.lines())
        states = [s.state for s in second.steps]
        self.assertIn("TakeOverLock", states)
        self.assertGreater(states.count("CheckEarlierInsert"), 1, "it waited for the first run's INSERT")
        rows, curated_keys, raw_keys = keys(self.lake)
        self.assertEqual((rows, curated_keys), (raw_keys, raw_keys))

    def test_without_the_wait_a_takeover_inserts_twice(self):
        definition = copy.deepcopy(self.lake.workflow.definition)
        definition["States"]["HasEarlierInsert"]["Choices"][0]["Variable"] = "$.lock.item.never_written.S"
        self.lake.workflow.definition = definition
        self._takeover()
        rows, curated_keys, raw_keys = keys(self.lake)
        self.assertEqual(curated_keys, raw_keys)
        self.assertGreater(rows, raw_keys, "both INSERTs committed")

    def _insert_outlasts_its_run(self, mutate=None):
        """An INSERT that runs (5 s) past the run's patience (cut from 200
        checks of 10 s to 10 here: about a second, a Wait lasting 0.1 s
        here, where an INSERT of this lake takes a fifth), then the next
        run, with the definition as written."""
        written = self.lake.workflow.definition
        definition = copy.deepcopy(written)
        definition["States"]["IsInsertDone"]["Choices"][2]["NumericGreaterThanEquals"] = 10
        if mutate:
            mutate(definition)
        athena = local_athena.LocalAthena(self.lake)
        athena.injections.append(local_athena.Injection("INSERT INTO", delay=5.0, fail=False, times=1))
        self.lake.workflow.definition = definition
        try:
            with workflow.Runner(self.lake, athena=athena) as runner:
                first = runner.run({"maintenance": True}, name="first")
                lock = runner.lock_item()
        finally:
            self.lake.workflow.definition = written
        with workflow.Runner(self.lake, athena=athena) as runner:
            second = runner.run({"maintenance": True}, name="second")
            self._until(lambda: all(q.state not in ("QUEUED", "RUNNING") for q in athena.queries.values()))
        return first, second, lock

    def test_an_insert_past_the_runs_patience_is_stopped_and_waited_for_before_the_lock_is_released(self):
        first, second, lock = self._insert_outlasts_its_run()
        self.assertEqual(first.status, "FAILED", first.lines())
        states = [s.state for s in first.steps]
        self.assertIn("StopInsert", states)
        self.assertGreater(states.count("CheckStoppedInsert"), 1, "it waited for the stopped INSERT to end")
        self.assertNotIn("holder", lock, "the failed run released the lock")
        self.assertIn("last_insert", lock, "and left its INSERT for the next run to check")
        self.assertIn("cancelled", " ".join(first.lines()))
        self.assertEqual(second.status, "SUCCEEDED", second.lines())
        rows, curated_keys, raw_keys = keys(self.lake)
        self.assertEqual((rows, curated_keys), (raw_keys, raw_keys))

    @staticmethod
    def retry_at_once(definition):
        # What a Retry on States.Timeout (or an answer lost on the way
        # back) does: start again while the first INSERT runs on.
        definition["States"]["InsertRanTooLong"]["Next"] = "InsertEvents"

    def test_a_start_retried_with_its_token_starts_no_second_insert(self):
        first, _, _ = self._insert_outlasts_its_run(self.retry_at_once)
        self.assertEqual(first.status, "SUCCEEDED", first.lines())
        rows, curated_keys, raw_keys = keys(self.lake)
        self.assertEqual((rows, curated_keys), (raw_keys, raw_keys), "Athena answered with the first query")

    def test_without_the_token_a_retried_start_inserts_twice(self):
        def retry_without_token(definition):
            self.retry_at_once(definition)
            del definition["States"]["InsertEvents"]["Parameters"]["ClientRequestToken.$"]

        first, _, _ = self._insert_outlasts_its_run(retry_without_token)
        self.assertEqual(first.status, "SUCCEEDED", first.lines())
        rows, curated_keys, raw_keys = keys(self.lake)
        self.assertEqual(curated_keys, raw_keys)
        self.assertGreater(rows, raw_keys, "both INSERTs committed")


class FarApartEventTimes(unittest.TestCase):
    """Issue 35's lake: events in 1,000 distinct 100-day blocks of event
    time, most in the future, all arriving today. The hourly run and then
    the daily one: each execution stays far below Step Functions' 25,000
    history events, every event is curated or reported by name (the
    future-dated ones by the daily run's count and the named query
    future-dated-events), and nothing stalls."""

    PAST = 25

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="far-apart-")
        lake_dir = Path(self.dir.name)
        self.objects = synthetic_lake.far_apart(1000, self.PAST, TODAY)
        for obj in self.objects:
            synthetic_lake.write(lake_dir, obj)
        self.lake = engine.Lake(lake_dir, {"LakeStartDate": TODAY.isoformat()})
        self.ids = {row.event.event_id for obj in self.objects for row in obj.rows}

    def tearDown(self):
        self.dir.cleanup()

    def test_every_event_is_curated_or_reported_within_the_history_quota(self):
        told: list[str] = []
        with workflow.Runner(self.lake) as runner:
            hourly = workflow.curate(self.lake, runner=runner, progress=told.append)
            daily = workflow.curate(self.lake, maintenance=True, runner=runner, progress=told.append)
            future = runner.cloudwatch().get_metric_statistics(
                Namespace="ChatPipeline", MetricName="CurationFutureDatedEvents",
                Dimensions=[{"Name": "Stack", "Value": "local"}],
                StartTime=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1),
                EndTime=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1), Period=3600, Statistics=["Maximum"])
        self.assertEqual((hourly.status, daily.status), ("SUCCEEDED", "SUCCEEDED"), daily.lines())
        self.assertTrue(daily.window.caught_up)
        runs = hourly.runs + daily.runs
        self.assertEqual(len(daily.runs), 3, "25 blocks: three executions of at most ten, each starting the next")
        for run in runs:
            self.assertLess(run.history_events, 1000, run.lines())
        self.assertEqual(sum(1 for line in told if line.startswith("  history: ")), len(runs), "each count printed")
        curated_ids = {r[0] for r in self.lake.run("SELECT event_id FROM chat_events_curated")[1]}
        query = next(q for q in self.lake.queries if q.name == "future-dated-events")
        reported = {r[0] for r in self.lake.run(query.sql)[1]}
        self.assertEqual((len(curated_ids), len(reported)), (self.PAST, 1000 - self.PAST))
        self.assertEqual(curated_ids | reported, self.ids, "every event curated or listed by name")
        self.assertEqual([p["Maximum"] for p in future["Datapoints"]], [975.0])

    def test_without_the_bound_one_execution_takes_every_block(self):
        definition = copy.deepcopy(self.lake.workflow.definition)
        definition["States"]["HasNextBlock"]["Choices"][0]["And"][1]["NumericLessThanEquals"] = 1000
        definition["States"]["PlanInserts"]["Parameters"]["QueryString"] = \
            definition["States"]["PlanInserts"]["Parameters"]["QueryString"].replace("LIMIT 11", "")
        definition["States"]["HasMoreBlocks"]["Choices"][0]["NumericGreaterThan"] = 100_000
        self.lake.workflow.definition = definition
        daily = workflow.curate(self.lake, maintenance=True)
        self.assertEqual((daily.status, len(daily.runs)), ("SUCCEEDED", 1))
        # About 60 events a block: 25,000 is some 400 blocks away.
        self.assertGreater(daily.history_events, 25 * 50)

    def test_an_execution_past_the_quota_is_stopped_and_reported_failed(self):
        saved = workflow.HISTORY_QUOTA
        workflow.HISTORY_QUOTA = 300
        try:
            daily = workflow.curate(self.lake, maintenance=True)
        finally:
            workflow.HISTORY_QUOTA = saved
        self.assertEqual((daily.status, daily.error), ("FAILED", workflow.HISTORY_QUOTA_ERROR))
        self.assertIn("Step Functions fails an execution at 300", daily.cause)


class TransientFailures(unittest.TestCase):
    """What the workflow retries, tried: VACUUM asking for more runs, a
    DynamoDB 500, an Athena start whose answer is lost."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="transient-")
        self.lake = small_lake(Path(self.dir.name))

    def tearDown(self):
        self.dir.cleanup()

    def test_vacuum_runs_again_while_athena_asks(self):
        athena = local_athena.LocalAthena(self.lake)
        athena.injections.append(local_athena.Injection(
            "VACUUM", times=2, reason="ICEBERG_VACUUM_MORE_RUNS_NEEDED: Removed 1000 of 2400 files; run VACUUM again"))
        with workflow.Runner(self.lake, athena=athena) as runner:
            daily = workflow.curate(self.lake, maintenance=True, runner=runner)
        self.assertEqual(daily.status, "SUCCEEDED", daily.lines())
        self.assertEqual([s.state for s in daily.steps].count("ExpireSnapshotsAndOrphans"), 3)

    def test_a_dynamodb_500_is_retried(self):
        from botocore.exceptions import ClientError
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
            state_task_service_dynamodb as service,
        )

        original = service.StateTaskServiceDynamoDB._eval_service_task
        failures = []

        def once(self_, env, resource_runtime_part, normalised_parameters, state_credentials):
            if not failures:
                failures.append(1)
                raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected 500"},
                                   "ResponseMetadata": {"HTTPStatusCode": 500, "RequestId": "r"}}, "UpdateItem")
            return original(self_, env, resource_runtime_part, normalised_parameters, state_credentials)

        service.StateTaskServiceDynamoDB._eval_service_task = once
        try:
            run = workflow.curate(self.lake)
        finally:
            service.StateTaskServiceDynamoDB._eval_service_task = original
        self.assertEqual(run.status, "SUCCEEDED", run.lines())
        self.assertIn("failed: DynamoDB.InternalServerError", " ".join(run.lines()))

    def _lose_start_answers(self, times: int, definition=None):
        athena = local_athena.LocalAthena(self.lake)
        athena.injections.append(local_athena.Injection("INSERT INTO", lose_answer=True, times=times))
        written = self.lake.workflow.definition
        if definition is not None:
            self.lake.workflow.definition = definition
        try:
            with workflow.Runner(self.lake, athena=athena) as runner:
                first = runner.run({"maintenance": True})
                lock = runner.lock_item()
        finally:
            self.lake.workflow.definition = written
        with workflow.Runner(self.lake, athena=athena) as runner:
            second = runner.run({"maintenance": True})
            Overlap._until(lambda: all(q.state not in ("QUEUED", "RUNNING") for q in athena.queries.values()))
        return first, lock, second

    def test_a_start_whose_answer_is_lost_is_retried_with_its_token_and_inserts_once(self):
        first, _, _ = self._lose_start_answers(times=1)
        self.assertEqual(first.status, "SUCCEEDED", first.lines())
        rows, curated_keys, raw_keys = keys(self.lake)
        self.assertEqual((rows, curated_keys), (raw_keys, raw_keys))

    def test_without_the_token_a_lost_answer_inserts_twice(self):
        definition = copy.deepcopy(self.lake.workflow.definition)
        del definition["States"]["InsertEvents"]["Parameters"]["ClientRequestToken.$"]
        first, _, _ = self._lose_start_answers(times=1, definition=definition)
        self.assertEqual(first.status, "SUCCEEDED", first.lines())
        rows, curated_keys, raw_keys = keys(self.lake)
        self.assertEqual(curated_keys, raw_keys)
        self.assertGreater(rows, raw_keys, "the lost start's query and its retry both committed")

    def test_a_run_that_never_got_its_answer_leaves_the_request_and_the_next_run_resumes_it(self):
        # Every start of the first run loses its answer: its retries give
        # up and the run fails with the request written down.
        first, lock, second = self._lose_start_answers(times=6)
        self.assertEqual(first.status, "FAILED", first.lines())
        self.assertIn("pending_insert", lock)
        self.assertNotIn("last_insert", lock)
        self.assertEqual(second.status, "SUCCEEDED", second.lines())
        self.assertIn("ResumePendingInsert", [s.state for s in second.steps])
        rows, curated_keys, raw_keys = keys(self.lake)
        self.assertEqual((rows, curated_keys), (raw_keys, raw_keys))


class SchemaChange(unittest.TestCase):
    """CREATE TABLE IF NOT EXISTS leaves a table an earlier version created
    as it was: a run over such a table stops before inserting, naming the
    columns it lacks, and after the documented ALTER TABLE ... ADD COLUMNS
    the runs go on, the earlier rows reading NULL in the new column."""

    def test_a_table_behind_the_definition_stops_the_run_until_altered(self):
        with tempfile.TemporaryDirectory(prefix="schema-") as d:
            lake = small_lake(Path(d))
            ddl = lake.workflow.query("CreateTable")
            # The table as a version without schema_version created it,
            # holding yesterday's events already.
            older = curated.TableDefinition.from_ddl(ddl.replace(", schema_version int)", ")"))
            self.assertNotIn("schema_version", [f.name for f in older.schema.fields])
            table, _ = lake.catalog.create_if_not_exists(older)
            yesterday = lake.con.sql(
                "SELECT DISTINCT ON (event_id, occurred_at) event_id, event_type, user_id, session_id, seq, "
                "occurred_at, event_date, received_at, source FROM chat_events "
                f"WHERE dt = '{(TODAY - dt.timedelta(days=1)).isoformat()}'").to_arrow_table()
            self.assertGreater(yesterday.num_rows, 0)
            table.append(curated.arrow_for(table, yesterday))

            stopped = workflow.curate(lake)
            self.assertEqual(stopped.status, "FAILED", stopped.lines())
            self.assertEqual(stopped.error, "CurationTableSchemaBehind")
            self.assertIn("lacks a column", stopped.cause)
            self.assertIn("COLUMN_NOT_FOUND: Column 'schema_version' cannot be resolved", stopped.cause)
            self.assertEqual(stopped.inserted, 0)

            athena = local_athena.LocalAthena(lake)
            alter = athena.start_query_execution("ALTER TABLE chat_events_curated ADD COLUMNS (schema_version int)")
            self.assertEqual(AthenaLimits._wait(athena, alter)["Status"]["State"], "SUCCEEDED")
            again = workflow.curate(lake)
            self.assertEqual(again.status, "SUCCEEDED", again.lines())
            _, ((rows, keys_, old_rows),) = lake.run(
                "SELECT count(*), count(DISTINCT (event_id, occurred_at)), count(*) FILTER (WHERE schema_version IS NULL) "
                "FROM chat_events_curated")
        self.assertEqual(rows, keys_)
        self.assertEqual(old_rows, yesterday.num_rows, "the earlier rows read NULL in the added column")


if __name__ == "__main__":
    unittest.main()
