"""Run the Pulumi program for a committed stack under ``pulumi.runtime.set_mocks``.

For tests and for a look at what a stack would create without AWS or the Pulumi CLI:
``run_stack("dev").resources`` lists every resource with its provider inputs.

No Pulumi CLI, no AWS: the mocks record every resource the program registers (type, name,
inputs as the provider would receive them) and answer with plausible ARNs, names and URLs.
The stack's config comes from ``infra/Pulumi.<stack>.yaml`` itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pulumi
import yaml  # type: ignore[import-untyped]

from audioval_infra.config import load_config
from audioval_infra.stack import PROJECT_DIR, build_stack

__all__ = [
    "ACCOUNT",
    "REGION",
    "Recorded",
    "RecordingMocks",
    "StackRun",
    "run_stack",
    "stack_values",
]

PROJECT = "audioval"
REGION = "us-east-1"
ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Recorded:
    typ: str
    name: str
    inputs: dict[str, Any]


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers resource registrations and provider calls; keeps what it was asked."""

    def __init__(self) -> None:
        self.resources: list[Recorded] = []

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        self.resources.append(Recorded(args.typ, args.name, dict(args.inputs)))
        state = dict(args.inputs)
        name = state.get("name") or args.name
        state.setdefault("name", name)
        service = args.typ.split(":")[1].split("/")[0]
        arn = f"arn:aws:{service}:{REGION}:{ACCOUNT}:{name}"
        if args.typ == "aws:kinesis/stream:Stream":
            arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"
        elif args.typ == "aws:dynamodb/table:Table":
            arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
        elif args.typ == "aws:sqs/queue:Queue":
            state["url"] = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
        elif args.typ == "aws:s3/bucket:Bucket":
            state["bucket"] = f"{args.name}-0a1b2c"
            arn = f"arn:aws:s3:::{state['bucket']}"
        elif args.typ == "aws:kms/key:Key":
            state["keyId"] = "0000-key"
            arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0000-key"
        elif args.typ == "aws:iam/role:Role":
            arn = f"arn:aws:iam::{ACCOUNT}:role/{name}"
        elif args.typ == "aws:lb/loadBalancer:LoadBalancer":
            state["dnsName"] = f"internal-{args.name}.{REGION}.elb.amazonaws.com"
        elif args.typ == "aws:ecr/repository:Repository":
            state["repositoryUrl"] = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{name}"
        elif args.typ == "aws:emr/cluster:Cluster":
            state["masterPublicDns"] = "ip-10-40-128-10.ec2.internal"
        elif args.typ == "aws:cloudwatch/logGroup:LogGroup":
            arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"
        state.setdefault("arn", arn)
        return f"{args.name}-id", state

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": REGION, "region": REGION, "id": REGION}, []
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            identity = {
                "accountId": ACCOUNT,
                "arn": f"arn:aws:iam::{ACCOUNT}:user/t",
                "id": ACCOUNT,
            }
            return identity, []
        raise NotImplementedError(f"the program made an unexpected call: {args.token}")


@dataclass
class StackRun:
    """What one run of the program registered, and its resolved outputs."""

    stack: str
    config: dict[str, Any]
    resources: list[Recorded]
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, typ: str) -> list[Recorded]:
        return [r for r in self.resources if r.typ == typ]

    def named(self, typ: str, name: str) -> Recorded:
        (match,) = [r for r in self.of_type(typ) if r.name == name]
        return match

    def __iter__(self) -> Iterator[Recorded]:
        return iter(self.resources)


def stack_values(stack: str) -> dict[str, Any]:
    """The ``audioval:*`` values of ``Pulumi.<stack>.yaml`` (namespace stripped)."""
    document = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())
    return {
        key.split(":", 1)[1]: value
        for key, value in document["config"].items()
        if key.startswith(f"{PROJECT}:")
    }


def run_stack(stack: str, *, preview: bool = False) -> StackRun:
    """Run the program as ``pulumi preview``/``up`` would for ``stack``, under mocks."""
    document = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview)
    # The engine hands config to the program as strings; objects and lists as JSON.
    pulumi.runtime.set_all_config(
        {
            key: value if isinstance(value, str) else json.dumps(value)
            for key, value in document["config"].items()
        }
    )
    run = StackRun(stack, stack_values(stack), mocks.resources)

    def keep(resolved: dict[str, Any]) -> None:
        run.outputs.update(resolved)

    # pulumi.runtime.test waits for every registration and output before returning.
    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def program() -> pulumi.Output[None]:
        outputs: pulumi.Input[dict[str, Any]] = build_stack(load_config())
        return pulumi.Output.from_input(outputs).apply(keep)

    program()
    return run
