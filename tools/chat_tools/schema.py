"""The event model, read from schema/output-v1.schema.json: the one source
of the event types, the columns (in order, with their types, nullability and
limits), the input field each column is read from, the lake's partitions,
and each column's type in every dialect that stores it.

Where it sits: `chat_tools.codegen` writes every derived copy from it (`make
generate`), and the tools that need the model at run time (the synthetic
lake, the warehouse tests, the SQL checks) read it here instead of keeping a
list of their own. Standard library only: `make generate` and `make check`
run it with the machine's python3, before any virtualenv exists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from chat_tools.paths import SCHEMA

I64_MAX = 2**63 - 1
# What a column of each kind is in each dialect, where no x-types hint says
# otherwise. Strings: Redshift's VARCHAR(n) counts bytes, and a character of
# UTF-8 takes up to 4 (Redshift Database Developer Guide, "Character types"),
# so a limit of n characters needs 4n bytes; Snowflake's VARCHAR(n) counts
# characters (Snowflake, "String & binary data types").
KINDS = ("string", "integer", "timestamp", "date", "struct")


class SchemaError(Exception):
    """The schema cannot be read as the event model; the message says where."""


@dataclass(frozen=True)
class Column:
    """One output column, in the schema's order."""

    name: str
    kind: str  # one of KINDS
    nullable: bool
    description: str
    min_length: int | None = None
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    enum: tuple[str, ...] = ()
    const: object = None
    # The transformer's own rule for the column (event-id, user, ...), or
    # None for a plain column (read from its input field, null when absent).
    transformer: str | None = None
    # The input field it is read from, and other accepted names.
    input_field: str | None = None
    aliases: tuple[str, ...] = ()
    input_values: str | None = None
    # The struct's fields, for kind "struct": (name, kind).
    fields: tuple[tuple[str, str], ...] = ()
    types: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def plain(self) -> bool:
        return self.transformer is None

    # ---------------------------------------------------------- dialects --
    def glue_type(self) -> str:
        if "glue" in self.types:
            return self.types["glue"]
        return {
            "string": "string",
            "integer": "bigint",
            "timestamp": "timestamp",
            "date": "date",
            "struct": "struct<" + ",".join(f"{n}:string" for n, _ in self.fields) + ">",
        }[self.kind]

    def athena_ddl_type(self) -> str:
        """The type in Athena's CREATE TABLE (Iceberg): Glue's."""
        return self.glue_type()

    def redshift_type(self) -> str:
        if "redshift" in self.types:
            return self.types["redshift"]
        if self.kind == "string" and self.enum:
            # The event types are lower snake case ASCII: a byte a character.
            return f"VARCHAR({self.max_length})"
        if self.kind == "string":
            return f"VARCHAR({4 * self.max_length})" if self.max_length else "VARCHAR(65535)"
        return {"integer": "BIGINT", "timestamp": "TIMESTAMP", "date": "DATE", "struct": "SUPER"}[self.kind]

    def snowflake_type(self) -> str:
        if "snowflake" in self.types:
            return self.types["snowflake"]
        if self.kind == "string":
            return f"VARCHAR({self.max_length})" if self.max_length else "VARCHAR"
        return {"integer": "NUMBER(19, 0)", "timestamp": "TIMESTAMP_NTZ(3)", "date": "DATE",
                "struct": "OBJECT"}[self.kind]

    def duckdb_type(self) -> str:
        if "duckdb" in self.types:
            return self.types["duckdb"]
        if self.kind == "struct":
            return "STRUCT(" + ", ".join(f"{n} VARCHAR" for n, _ in self.fields) + ")"
        return {"string": "VARCHAR", "integer": "BIGINT", "timestamp": "TIMESTAMP", "date": "DATE"}[self.kind]

    def json_type(self) -> str:
        """The type as the docs write it: `string`, `integer or null`, ..."""
        base = {"string": "string", "integer": "integer", "timestamp": "string", "date": "string",
                "struct": "object"}[self.kind]
        return f"{base} or null" if self.nullable else base


@dataclass(frozen=True)
class Partition:
    name: str
    max_length: int | None
    description: str


@dataclass(frozen=True)
class Model:
    columns: tuple[Column, ...]
    partitions: tuple[Partition, ...]
    text: str  # the schema file's text, for error messages

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise SchemaError(f"schema/output-v1.schema.json: no column {name!r}")

    @property
    def event_types(self) -> tuple[str, ...]:
        """The event types, as written in event_type and its partition."""
        return self.column("event_type").enum

    @property
    def plain_columns(self) -> list[Column]:
        return [c for c in self.columns if c.plain]


def _kind(name: str, prop: dict) -> str:
    types = prop.get("type")
    types = types if isinstance(types, list) else [types]
    non_null = [t for t in types if t != "null"]
    if len(non_null) != 1:
        raise SchemaError(f"schema: column {name}: expected one type besides null, found {types}")
    t = non_null[0]
    if t == "string":
        return {"date-time": "timestamp", "date": "date"}.get(prop.get("format", ""), "string")
    if t == "integer":
        return "integer"
    if t == "object":
        return "struct"
    raise SchemaError(f"schema: column {name}: type {t!r} is not one the pipeline stores "
                      "(string, integer, string with format date-time or date, object)")


def parse(schema: dict, text: str = "", strict: bool = True) -> Model:
    """The model of a parsed schema document. Not `strict`: the columns'
    names and types only, as an older schema (before its x- annotations)
    declares them, for a migration from it."""
    required = set(schema.get("required", []))
    columns = []
    for name, prop in schema["properties"].items():
        kind = _kind(name, prop)
        types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
        nullable = "null" in types
        if name not in required:
            raise SchemaError(f"schema: column {name} must be in `required` (a column is written on every line, "
                              "null when it has no value)")
        transformer = prop.get("x-transformer")
        x_input = prop.get("x-input", {})
        if transformer is None and strict:
            if not nullable or kind not in ("string", "integer"):
                raise SchemaError(
                    f"schema: column {name} has no x-transformer, so it is a plain column: it must be a nullable "
                    f"string or a nullable integer (\"type\": [\"string\", \"null\"]), found {prop['type']}")
            if kind == "integer" and (prop.get("minimum", 0) < -I64_MAX or prop.get("maximum", I64_MAX) > I64_MAX):
                raise SchemaError(f"schema: column {name}: integers are stored as signed 64-bit (bigint)")
        fields = tuple((n, _kind(f"{name}.{n}", p)) for n, p in prop.get("properties", {}).items())
        columns.append(Column(
            name=name,
            kind=kind,
            nullable=nullable,
            description=prop.get("description", ""),
            min_length=prop.get("minLength"),
            max_length=prop.get("maxLength"),
            minimum=prop.get("minimum"),
            maximum=prop.get("maximum"),
            enum=tuple(prop.get("enum", ())),
            const=prop.get("const"),
            transformer=transformer,
            input_field=x_input.get("field", name if transformer is None else None),
            aliases=tuple(x_input.get("aliases", ())),
            input_values=x_input.get("values"),
            fields=fields,
            types=dict(prop.get("x-types", {})),
        ))
    names = [c.name for c in columns]
    missing = sorted(required - set(names))
    if missing:
        raise SchemaError(f"schema: `required` names columns without a property: {missing}")
    event_type = next((c for c in columns if c.name == "event_type"), None)
    if event_type is None or not event_type.enum:
        raise SchemaError("schema: event_type must list the event types in its enum")
    for value in event_type.enum:
        if not value or not all(ch.islower() or ch.isdigit() or ch == "_" for ch in value) or not value[0].islower():
            raise SchemaError(f"schema: event type {value!r} must be lower snake case (letters, digits, _), "
                              "as the partition and the Rust names are derived from it")
        if event_type.max_length and len(value) > event_type.max_length:
            raise SchemaError(f"schema: event type {value!r} is longer than event_type's maxLength "
                              f"{event_type.max_length}")
    inputs = {}
    for c in columns:
        for f in filter(None, (c.input_field, *c.aliases)):
            if f in inputs:
                raise SchemaError(f"schema: input field {f!r} is read by both {inputs[f]} and {c.name}")
            inputs[f] = c.name
    partitions = tuple(
        Partition(n, p.get("maxLength"), p.get("description", ""))
        for n, p in schema.get("x-lake-partitions", {}).get("properties", {}).items()
    )
    return Model(columns=tuple(columns), partitions=partitions, text=text)


@lru_cache(maxsize=4)
def load(path: Path = SCHEMA) -> Model:
    """The repository's event model."""
    text = path.read_text()
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise SchemaError(f"{path}: not JSON: {e}") from e
    return parse(document, text)
