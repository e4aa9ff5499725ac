"""Translate infra/template.yaml (AWS SAM) into a plain CloudFormation template, offline.

`sam deploy` and CloudFormation run the SAM transform in the cloud; this does the same locally
with aws-sam-translator, for accounts that forbid transforms and for the tests, which create
the result as a stack in moto. The function's CodeUri must name the uploaded artifact
(s3://bucket/key), as `sam package` would rewrite it.

    python infra/translate.py --code-uri s3://BUCKET/keyturn-lambda.zip --region eu-west-1 \\
        infra/template.yaml > dist/template.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import boto3  # noqa: TID251 - a build script, not the keyturn package
import yaml
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

FUNCTION_TYPE = "AWS::Serverless::Function"


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that reads CloudFormation's short intrinsics (!Ref, !Sub, ...) as dicts."""


def _intrinsic(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if suffix == "GetAtt" and isinstance(node, yaml.ScalarNode):
        return {name: loader.construct_scalar(node).split(".", 1)}
    if isinstance(node, yaml.ScalarNode):
        return {name: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {name: loader.construct_sequence(node, deep=True)}
    return {name: loader.construct_mapping(node, deep=True)}  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path) -> dict[str, Any]:
    """The template at `path` as a dict, short intrinsics expanded."""
    loaded: dict[str, Any] = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader
    return loaded


def translate(
    template: dict[str, Any],
    code_uri: str,
    region: str,
    parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The plain CloudFormation for `template`, the function's code taken from `code_uri`.

    `parameters` are the values the stack will be given: SAM resolves a few properties at
    transform time, as CloudFormation's transform does with the stack's real values.
    """
    sam = json.loads(json.dumps(template))
    for resource in sam["Resources"].values():
        if resource["Type"] == FUNCTION_TYPE:  # the rotation function and the fleet's two
            resource["Properties"]["CodeUri"] = code_uri
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
    return translator.translate(sam, parameter_values=dict(parameters or {}))  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("template", type=Path)
    parser.add_argument("--code-uri", required=True, help="s3://bucket/key of the artifact")
    parser.add_argument("--region", required=True)
    parser.add_argument(
        "--parameter", action="append", default=[], metavar="KEY=VALUE", help="a stack parameter"
    )
    args = parser.parse_args(argv)
    parameters = dict(p.split("=", 1) for p in args.parameter)
    plain = translate(load_template(args.template), args.code_uri, args.region, parameters)
    sys.stdout.write(json.dumps(plain, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
