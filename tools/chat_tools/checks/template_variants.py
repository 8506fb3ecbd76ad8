"""Writes template.yaml with its optional warehouse resources switched on, so
that `make template-check` lints the stack both ways.

cfn-lint, `sam validate --lint` and checkov take no parameter values: they
evaluate conditions, where they do, from the parameters' defaults, which keep
every option off. This writes target/template-options-on.json: the same
template (long-form intrinsics, as JSON) whose defaults turn on Redshift
streaming ingestion and both Snowflake options, with example values of the
documented shapes.

Usage: python -m chat_tools.checks.template_variants OUT_DIR   (prints the files it wrote)
"""

import json
import sys
from pathlib import Path

from chat_tools import cfn_template

OPTIONS_ON = {
    "SourceType": "KinesisStream",
    "RedshiftStreamingIngestion": "Enabled",
    # Redshift's streaming ingestion reads one event a record (the
    # template's Rules refuse it with packing).
    "PackEvents": "Disabled",
    "SnowflakeIamUserArn": "arn:aws:iam::123456789012:user/abc1-s-example",
    "SnowflakeExternalId": "MYACCOUNT_SFCRole=2_abcdefg=",
    "SnowpipeQueueArn": "arn:aws:sqs:us-east-1:123456789012:sf-snowpipe-AIDAEXAMPLE-example",
    "SnowflakeIcebergExternalIds": "MYACCOUNT_SFCRole=2_glue000=,MYACCOUNT_SFCRole=2_volume0=",
}


def main() -> int:
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    template = cfn_template.load()
    for name, value in OPTIONS_ON.items():
        if name not in template["Parameters"]:
            raise SystemExit(f"template_variants: template.yaml has no parameter {name}")
        template["Parameters"][name]["Default"] = value
    path = out_dir / "template-options-on.json"
    path.write_text(json.dumps(template, indent=1))
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
