"""`make cost [LAKE=out] [JSON=1]`: the monthly bill at the schedule's rate,
1,000 and 100,000 events a second, packed and one event a record, priced
from the run that wrote LAKE (chat_tools.cost.model)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chat_tools import cfn_template
from chat_tools.cost import model


def rates() -> list[float]:
    """The template's schedule (EventsPerInvocation a minute), then 1,000 and
    100,000 events a second."""
    template = cfn_template.load()
    per_tick = int(template["Parameters"]["EventsPerInvocation"]["Default"])
    return [per_tick / 60, 1_000.0, 100_000.0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lake", default="out")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    try:
        measured = model.measure(Path(args.lake))
    except model.CostError as e:
        print(f"make cost: {e}", file=sys.stderr)
        return 2
    settings = model.settings_from_template()
    p = model.prices()
    estimates = [model.estimate(measured, rate, design, settings, p)
                 for rate in rates() for design in ("packed", "one-per-record")]
    if args.json:
        print(json.dumps([e.row() for e in estimates], indent=1))
        return 0
    m = measured
    print(f"Measured on {m.source}: {m.events:,} events in {m.records:,} records ({m.events_per_record:.1f} a record), "
          f"{m.event_bytes:.0f} B an event as sent, {m.output_bytes:.0f} B as landed ({m.landed_gz_bytes:.0f} B GZIP), "
          f"{m.invocations_per_event * 1000:.2f} transformer invocations per 1,000 events.")
    print(f"List prices: {model.PRICES.relative_to(model.PRICES.parents[3])}, {p['region']}, read {p['read_on']}. "
          "Dollars a month (730 hours).")
    for rate in rates():
        pair = [e for e in estimates if e.events_per_second == rate]
        print(f"\n{rate:,.1f} events/s" if rate < 100 else f"\n{rate:,.0f} events/s")
        print(f"  {'service':32} {'packed':>12} {'one per record':>15}   packed: what it bills")
        for packed, single in zip(pair[0].lines, pair[1].lines):
            print(f"  {packed.service:32} {packed.dollars:12,.2f} {single.dollars:15,.2f}   {packed.basis}")
        print(f"  {'total':32} {pair[0].total:12,.2f} {pair[1].total:15,.2f}   "
              f"packed: {pair[0].total / pair[1].total:.2f} of one per record")
        for packed, single in zip(pair[0].alternatives, pair[1].alternatives):
            print(f"  ({packed.service}, instead of provisioned: {packed.dollars:,.2f} / {single.dollars:,.2f})")
    return 0


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    sys.exit(main())
