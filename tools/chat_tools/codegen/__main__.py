"""`python3 -m chat_tools.codegen [--check]`: see chat_tools.codegen."""

from __future__ import annotations

import argparse
import sys

from chat_tools.codegen import regions
from chat_tools.codegen.targets import TARGETS, Regions, Whole
from chat_tools.paths import REPO
from chat_tools.samples import SampleError
from chat_tools.schema import SchemaError, load


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m chat_tools.codegen",
                                 description="Derive every copy of the event model from schema/output-v1.schema.json.")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 naming every stale copy")
    args = ap.parse_args(argv)
    try:
        model = load()
        stale = []
        for target in TARGETS:
            path = REPO / target.path
            current = path.read_text() if path.exists() else ""
            if isinstance(target, Whole):
                wanted, changed = target.render(model), ["the whole file"]
            else:
                assert isinstance(target, Regions)
                render = {name: (lambda f=f: f(model)) for name, f in target.regions.items()}
                wanted, changed = regions.rewrite(target.path, current, render)
            if wanted == current:
                continue
            stale.append(f"{target.path}: {', '.join(changed)}")
            if not args.check:
                path.write_text(wanted)
    except (SchemaError, SampleError, regions.RegionError) as e:
        print(f"make generate: {e}", file=sys.stderr)
        return 2
    if args.check:
        if stale:
            print("Stale copies of schema/output-v1.schema.json (run `make generate`):", file=sys.stderr)
            for line in stale:
                print(f"  {line}", file=sys.stderr)
            return 1
        print(f"Every copy of schema/output-v1.schema.json and every sample request is current "
              f"({len(TARGETS)} files).")
        return 0
    for line in stale:
        print(f"generated {line}")
    if not stale:
        print(f"Nothing to generate: every copy of schema/output-v1.schema.json is current ({len(TARGETS)} files).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
