"""Before `make deploy` builds anything: are there AWS credentials, and which
region will `sam deploy` use? A cold arm64 release build takes minutes;
without credentials `sam deploy` would only say so after it.

Where it sits: the first step of `make deploy` (Makefile), before `make
build`. It reads the environment's region from samconfig.toml (the
`[<env>.global.parameters]` region `sam deploy --config-env <env>` uses),
or AWS_REGION / AWS_DEFAULT_REGION, and resolves credentials the way the
AWS SDKs and SAM CLI do (boto3's default chain: environment, shared files,
SSO, instance roles), then asks STS who they are (GetCallerIdentity needs
no permission).

Usage: python -m chat_tools.stack.preflight --env staging
Exit 0 when both are there; 2 with what is missing and how to set it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib

from chat_tools.paths import REPO


class PreflightError(Exception):
    """What `sam deploy` would lack, and how to give it."""


def samconfig_region(env: str) -> str | None:
    path = REPO / "samconfig.toml"
    if not path.exists():
        return None
    config = tomllib.loads(path.read_text())
    for section in (env, "default"):
        region = config.get(section, {}).get("global", {}).get("parameters", {}).get("region")
        if region:
            return region
    return None


def region_for(env: str) -> str:
    region = samconfig_region(env) or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise PreflightError(
            f"no region for ENV={env}: set region in samconfig.toml's [{env}.global.parameters], or AWS_REGION")
    return region


def caller(region: str) -> str:
    """The ARN the credentials belong to."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    session = boto3.session.Session(region_name=region)
    if session.get_credentials() is None:
        raise PreflightError(
            "no AWS credentials: `aws configure` (or `aws sso login`), AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY; nothing was built")
    sts = session.client("sts", config=Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 2}))
    try:
        return sts.get_caller_identity()["Arn"]
    except (BotoCoreError, ClientError) as e:
        raise PreflightError(f"the AWS credentials do not work in {region} (STS GetCallerIdentity: {e}); nothing was built") from e


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--env", required=True)
    args = ap.parse_args(argv)
    try:
        region = region_for(args.env)
        who = caller(region)
    except PreflightError as e:
        print(f"make deploy: {e}", file=sys.stderr)
        return 2
    print(f"make deploy: ENV={args.env}, region {region}, as {who}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
