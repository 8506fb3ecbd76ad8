"""The docs' tables of the event model (Markdown regions), and of the
template's parameters (docs/operations.md)."""

from __future__ import annotations

from chat_tools import cfn_template
from chat_tools.schema import Model


def columns_table(model: Model) -> list[str]:
    """docs/transformer.md: the output columns, in the order every line
    writes them."""
    out = ["| column | type | meaning |", "| --- | --- | --- |"]
    for c in model.columns:
        meaning = c.description
        if c.enum:
            meaning += " One of " + ", ".join(f"`{t}`" for t in c.enum) + "."
        limits = []
        if c.kind == "string" and c.max_length and not c.enum:
            limits.append(f"{c.min_length or 0} to {c.max_length} characters")
        if c.kind == "integer" and c.minimum is not None and c.const is None:
            limits.append(f"{c.minimum} to {c.maximum}")
        if limits:
            meaning += " (" + "; ".join(limits) + ")"
        out.append(f"| `{c.name}` | {c.json_type()} | {meaning} |")
    return out


def input_table(model: Model) -> list[str]:
    """docs/transformer.md: which input field each column is read from."""
    out = ["| input field | column | accepts |", "| --- | --- | --- |"]
    for c in model.columns:
        if not c.input_field:
            continue
        names = ", ".join(f"`{n}`" for n in (c.input_field, *c.aliases))
        if c.input_values:
            accepts = c.input_values
        elif c.kind == "string":
            accepts = f"a string of {c.min_length or 0} to {c.max_length} characters, or null" if c.max_length \
                else "a string, or null"
        else:
            accepts = f"an integer from {c.minimum} to {c.maximum}, or null"
        out.append(f"| {names} | `{c.name}` | {accepts} |")
    return out


def parameters_table(_model: Model) -> list[str]:
    """docs/operations.md: every parameter of template.yaml, in its order,
    with its default, what it accepts and its description (the template's
    own words: a parameter added there is listed here by `make generate`)."""
    out = ["| parameter | default | accepts | what it sets |", "| --- | --- | --- | --- |"]
    for name, p in cfn_template.load()["Parameters"].items():
        default = p.get("Default")
        default = "empty" if default in ("", None) else f"`{default}`"
        if "AllowedValues" in p:
            accepts = ", ".join(f"`{v}`" for v in p["AllowedValues"])
        elif "AllowedPattern" in p:
            accepts = f"pattern `{p['AllowedPattern']}`".replace("|", "\\|")
        elif "MinValue" in p or "MaxValue" in p:
            accepts = f"{p.get('MinValue', '')} to {p.get('MaxValue', '')}"
        else:
            accepts = p.get("Type", "String")
        description = " ".join(str(p.get("Description", "")).split()).replace("|", "\\|")
        out.append(f"| `{name}` | {default} | {accepts} | {description} |")
    return out
