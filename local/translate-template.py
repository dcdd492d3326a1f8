"""Print template.yaml as CloudFormation sees it after the SAM transform (samtranslator), as JSON.

    .venv-sam/bin/python local/translate-template.py [TEMPLATE] [--parameter NAME=VALUE ...]

Runs in SAM CLI's virtualenv (.venv-sam), which has samtranslator. No AWS call is made: the
managed policies SAM may attach are resolved to ARNs built from their names, so a test can see
which ones are attached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parents[1]
PSEUDO = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}


class ManagedPolicies:
    """SAM asks for the name -> ARN map of AWS managed policies; answer by name, without IAM."""

    def load(self) -> dict[str, str]:
        return _ByName()


class _ByName(dict):  # type: ignore[type-arg]
    def __missing__(self, name: str) -> str:
        return f"arn:aws:iam::aws:policy/{name}"

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and not name.startswith("arn:")

    def get(self, name: Any, default: Any = None) -> Any:
        return self.__missing__(name) if name in self else default


def with_s3_uris(document: dict[str, Any]) -> dict[str, Any]:
    """Local code folders as S3 URIs, as `sam package` would leave them (the transform wants those)."""
    for resource in document.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                properties[key] = f"s3://signbridge-artifacts/{properties[key].strip('/')}"
    return document


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("template", nargs="?", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--parameter", action="append", default=[], help="NAME=VALUE")
    args = parser.parse_args()
    os.environ.setdefault("AWS_DEFAULT_REGION", PSEUDO["AWS::Region"])  # samtranslator asks boto3 for one
    parameters: dict[str, Any] = dict(PSEUDO)
    parameters.update(p.split("=", 1) for p in args.parameter)
    translated = transform(with_s3_uris(yaml_parse(args.template.read_text())), parameters, ManagedPolicies())  # type: ignore[arg-type]
    json.dump(translated, sys.stdout, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
