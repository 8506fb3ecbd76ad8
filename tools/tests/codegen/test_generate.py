"""make generate: every copy of the event model derives from the schema, so
a column or an event type added there reaches every copy (the Rust model,
the Glue table, the workflow's column lists, the views, the warehouse
recipes, the docs), and a copy the generator would change is named as stale.
"""

from __future__ import annotations

import copy
import json
import unittest

from chat_tools import schema
from chat_tools.codegen import regions, rust
from chat_tools.codegen.targets import TARGETS, Regions, Whole
from chat_tools.paths import REPO, SCHEMA


def model_with(change) -> schema.Model:
    document = json.loads(SCHEMA.read_text())
    changed = copy.deepcopy(document)
    change(changed)
    return schema.parse(changed)


def add_react(document: dict):
    """The change a team makes first: an event type and two columns."""
    document["properties"]["event_type"]["enum"].append("react")
    document["properties"]["message_id"] = {"type": ["string", "null"], "minLength": 1, "maxLength": 64,
                                            "description": "The message reacted to."}
    document["properties"]["emoji"] = {"type": ["string", "null"], "maxLength": 16,
                                       "description": "The reaction."}
    document["required"] += ["message_id", "emoji"]


class GoldenAnswers(unittest.TestCase):
    """The golden answers gain an added column as null, and nothing else."""

    def line(self, data: str) -> str:
        import base64
        return base64.b64decode(data).decode()

    def test_an_added_column_is_appended_as_null_to_every_answered_line(self):
        from chat_tools import samples
        model = model_with(add_react)
        for name in samples.expected_names():
            before = json.loads((samples.SAMPLES / f"{name}.expected.json").read_text())
            after = json.loads(samples.complete_expected(name, model.names))
            for old, new in zip(before["records"], after["records"]):
                if old["result"] != "Ok":
                    self.assertEqual(old, new, f"{name}: a refused record's answer changed")
                    continue
                self.assertEqual(self.line(new["data"]),
                                 self.line(old["data"])[:-2] + ',"message_id":null,"emoji":null}\n', name)

    def test_a_line_that_is_not_a_prefix_of_the_columns_is_left_alone(self):
        import base64
        from chat_tools import samples
        names = model_with(add_react).names
        for text in ['{"event_name":"JOIN","user":1}\n', '{"user_id":1,"event_id":"e","schema_version":1}\n', "not json"]:
            data = base64.b64encode(text.encode()).decode()
            self.assertEqual(samples._with_added_columns(data, names), data, text)

    def test_nothing_changes_without_a_change(self):
        from chat_tools import samples
        for name in samples.expected_names():
            self.assertEqual(samples.complete_expected(name, schema.load().names),
                             (samples.SAMPLES / f"{name}.expected.json").read_text(), name)


class Generated(unittest.TestCase):
    def test_every_copy_in_the_repository_is_current(self):
        model = schema.load()
        for target in TARGETS:
            current = (REPO / target.path).read_text()
            if isinstance(target, Whole):
                self.assertEqual(target.render(model), current, f"{target.path} is stale: run make generate")
            else:
                render = {n: (lambda f=f: f(model)) for n, f in target.regions.items()}
                text, changed = regions.rewrite(target.path, current, render)
                self.assertEqual(changed, [], f"{target.path}: stale regions {changed}: run make generate")

    def test_an_added_column_and_type_reach_every_region_and_the_rust_model(self):
        model = model_with(add_react)
        for target in TARGETS:
            if not isinstance(target, Regions) or target.source != regions.SOURCE:
                continue
            current = (REPO / target.path).read_text()
            render = {n: (lambda f=f: f(model)) for n, f in target.regions.items()}
            text, changed = regions.rewrite(target.path, current, render)
            self.assertTrue(changed, f"{target.path}: no region changed for a new column and type")
            for name in ("message_id", "emoji"):
                self.assertIn(name, text, f"{target.path} does not carry the new column {name}")
        code = rust.render(model)
        for expected in ("React,", '"REACT"', '"react"', "pub message_id: Option<Cow<'a, str>>",
                         'b",\\"message_id\\":"', 'b",\\"emoji\\":"', '"message_id" => Field::MessageId',
                         '"a string of 0 to 16 characters, or null"', '("emoji", "emoji")'):
            self.assertIn(expected, code)

    def test_a_stale_region_is_named(self):
        model = model_with(add_react)
        path = "template.yaml"
        target = next(t for t in TARGETS if t.path == path)
        render = {n: (lambda f=f: f(model)) for n, f in target.regions.items()}
        _, changed = regions.rewrite(path, (REPO / path).read_text(), render)
        self.assertEqual(changed, ["columns", "columns-continued", "curated-columns", "glue-columns",
                                   "glue-event-types"])

    def test_limits_are_characters_and_redshift_counts_bytes(self):
        model = model_with(add_react)
        emoji = model.column("emoji")
        self.assertEqual((emoji.snowflake_type(), emoji.redshift_type()), ("VARCHAR(16)", "VARCHAR(64)"))

    def test_a_column_the_transformer_cannot_read_as_it_is_is_refused(self):
        def required_text(document):
            document["properties"]["note"] = {"type": "string", "description": "not nullable"}
            document["required"].append("note")
        with self.assertRaisesRegex(schema.SchemaError, "plain column: it must be a nullable"):
            model_with(required_text)

    def test_an_event_type_that_is_not_lower_snake_case_is_refused(self):
        with self.assertRaisesRegex(schema.SchemaError, "lower snake case"):
            model_with(lambda d: d["properties"]["event_type"]["enum"].append("Re-act"))


if __name__ == "__main__":
    unittest.main()


class Migration(unittest.TestCase):
    def test_added_columns_and_types_become_each_systems_statements(self):
        from chat_tools.codegen import migrate
        text = migrate.statements(schema.load(), model_with(add_react))
        self.assertIn("ALTER TABLE chat_events_curated ADD COLUMNS (message_id string, emoji string);", text)
        self.assertIn("ALTER TABLE chat_events ADD COLUMN message_id VARCHAR(64), emoji VARCHAR(16);", text)
        self.assertIn("DROP VIEW IF EXISTS chat_events;", text)
        self.assertIn("Event types react", text)

    def test_a_removed_or_retyped_column_is_refused_by_name(self):
        from chat_tools.codegen import migrate

        def drop_seq(document):
            del document["properties"]["seq"]
            document["required"].remove("seq")
        with self.assertRaisesRegex(migrate.MigrationError, r"\['seq'\] removed"):
            migrate.statements(schema.load(), model_with(drop_seq))

        def retype(document):
            document["properties"]["seq"]["type"] = ["string", "null"]
        with self.assertRaisesRegex(migrate.MigrationError, "column seq changed type"):
            migrate.statements(schema.load(), model_with(retype))

    def test_nothing_changed_needs_nothing(self):
        from chat_tools.codegen import migrate
        self.assertIn("No migration", migrate.statements(schema.load(), schema.load()))
