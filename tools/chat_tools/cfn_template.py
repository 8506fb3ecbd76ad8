"""Reading template.yaml from Python: CloudFormation's short-form tags as
their long forms, parameter defaults, `Fn::Sub` over parameters, and a state
machine's definition from the file its DefinitionUri names.
`python3 chat_tools.cfn_template prints the template so read, as JSON: the
Rust reader (harness/src/template.rs) is held to the same values by
tests/tests/integration/template_agreement.rs.

Shared by chat_tools.stack.deploy (the emulator deployment) and
chat_tools.lake (the local query engine), which both read the template as
it stands instead of copying values out of it.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from chat_tools.paths import TEMPLATE


def yaml_loader():
    """A YAML loader that reads CloudFormation's short-form tags
    (`!Ref x`, `!GetAtt a.b`, `!Sub ...`) as their long forms."""

    class Loader(yaml.SafeLoader):
        pass

    def construct(loader, suffix, node):
        # `!Ref` and `!Condition` have no Fn:: prefix in the long form.
        name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if suffix == "GetAtt":
                value = value.split(".", 1)
            return {name: value}
        if isinstance(node, yaml.SequenceNode):
            return {name: loader.construct_sequence(node, deep=True)}
        return {name: loader.construct_mapping(node, deep=True)}

    Loader.add_multi_constructor("!", construct)
    return Loader


def load(path: Path = TEMPLATE) -> dict:
    with open(path) as f:
        return yaml.load(f, Loader=yaml_loader())


def state_machine_definition(resource: dict, template_path: Path = TEMPLATE) -> dict:
    """The definition of an AWS::Serverless::StateMachine: inline
    (`Definition`), or the file its `DefinitionUri` names, relative to the
    template, as `sam package` uploads it and Step Functions reads it (JSON
    or YAML)."""
    props = resource["Properties"]
    if "Definition" in props:
        return props["Definition"]
    uri = props.get("DefinitionUri")
    if not isinstance(uri, str) or uri.startswith("s3://"):
        raise SystemExit(f"template.yaml: a state machine's DefinitionUri must be a local file here, found {uri!r}")
    with open(template_path.parent / uri) as f:
        return yaml.safe_load(f)


def parameter_values(template: dict, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Each parameter's default, as a string, with `overrides` applied."""
    values = {
        name: str(p["Default"]) for name, p in template.get("Parameters", {}).items() if "Default" in p
    }
    for name, value in (overrides or {}).items():
        if name not in template.get("Parameters", {}):
            raise SystemExit(f"template.yaml has no parameter {name!r}")
        values[name] = value
    return values


def resources_of_type(template: dict, type_name: str) -> dict[str, dict]:
    """The resources of one type, by logical id, in template order."""
    return {k: r for k, r in template["Resources"].items() if r["Type"] == type_name}


def sub(value, parameters: dict[str, str], others: dict[str, str] | None = None) -> str:
    """Resolves a string or an `Fn::Sub` over parameters (and `others`, for
    resource references the caller chooses to stand in for); `${!x}` stays
    `${x}`, as CloudFormation writes it."""
    if isinstance(value, str):
        return value
    if not (isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str)):
        raise SystemExit(f"template.yaml: expected a string or a one-argument !Sub, found {value!r}")
    names = {**parameters, **(others or {})}

    def replace(m: re.Match) -> str:
        inner = m.group(1)
        if inner.startswith("!"):
            return "${" + inner[1:] + "}"
        if inner not in names:
            raise SystemExit(f"template.yaml: cannot resolve ${{{inner}}} here")
        return names[inner]

    return re.sub(r"\$\{([^}]*)\}", replace, value["Fn::Sub"])


if __name__ == "__main__":
    import json
    import sys

    json.dump(load(Path(sys.argv[1]) if len(sys.argv) > 1 else TEMPLATE), sys.stdout)
