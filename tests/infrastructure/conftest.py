"""Synthesis for the infrastructure tests: the real app builder, with cdk.json's context, into a temp dir.

Synthesis is the slow part (seconds per template), so each test module builds the
templates it needs once, in module-scoped fixtures, through the `synthesize` factory, or
through `synthesized`, which shares a template between modules (the defaults, the variant
with the digest and events off).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

# Before jsii starts (importing aws_cdk): its Node 20 end-of-life banner is silenced only
# by listing the major version, as app.py does for `cdk synth`.
os.environ["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"

from aws_cdk import App  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

from infra.application import build  # noqa: E402
from infra.stack import AuditStack  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
CDK_JSON_CONTEXT = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]


@dataclass(frozen=True)
class Synthesized:
    stack: AuditStack
    template: Template
    template_json: dict
    outdir: Path

    def resources(self, resource_type: str) -> dict[str, dict]:
        return {
            logical_id: resource
            for logical_id, resource in self.template_json["Resources"].items()
            if resource["Type"] == resource_type
        }

    def only(self, resource_type: str) -> dict:
        (resource,) = self.resources(resource_type).values()
        return resource

    def alarm(self, metric_name: str) -> dict:
        """The properties of the one alarm on the single metric `metric_name`."""
        (alarm,) = [
            resource["Properties"]
            for resource in self.resources("AWS::CloudWatch::Alarm").values()
            if resource["Properties"].get("MetricName") == metric_name
        ]
        return alarm

    def query_alarms(self) -> list[dict]:
        """The properties of the alarms on a query (metric math or Metrics Insights) rather than one metric."""
        return [
            resource["Properties"]
            for resource in self.resources("AWS::CloudWatch::Alarm").values()
            if "Metrics" in resource["Properties"]
        ]

    def dashboard_widgets(self) -> list[dict]:
        """The dashboard's widgets, with CloudFormation references rendered as readable placeholders."""
        parts = self.only("AWS::CloudWatch::Dashboard")["Properties"]["DashboardBody"]["Fn::Join"][1]
        body = "".join(
            part if isinstance(part, str) else "<" + json.dumps(part).replace('"', "'") + ">" for part in parts
        )
        return json.loads(body)["widgets"]

    def validation_report(self) -> dict:
        return json.loads((self.outdir / "validation-report.json").read_text())


# The variant with neither the weekly digest nor finding events (`-c digestSchedule= -c eventBusName=null`).
QUIET = {"digestSchedule": "", "eventBusName": "null"}


def widget(widgets: list[dict], title: str) -> dict:
    """The one dashboard widget with this title."""
    (found,) = [item for item in widgets if item["properties"].get("title") == title]
    return found


def cacert_arn(name: str) -> dict:
    """How the template spells arn:<partition>:iot:<region>:<account>:cacert/<name>."""
    parts = ["arn:", {"Ref": "AWS::Partition"}, ":iot:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}]
    return {"Fn::Join": ["", [*parts, f":cacert/{name}"]]}


@pytest.fixture(scope="session", name="cacert_arn")
def cacert_arn_fixture():
    return cacert_arn


@pytest.fixture(scope="session")
def synthesize(tmp_path_factory) -> Callable[[Mapping[str, object]], Synthesized]:
    """Synthesize the app as `cdk synth` would: cdk.json's context, overridden like `-c key=value`."""

    def run(overrides: Mapping[str, object] = {}) -> Synthesized:  # noqa: B006 - read-only default
        outdir = tmp_path_factory.mktemp("cdk.out")
        app = App(context={**CDK_JSON_CONTEXT, **overrides}, outdir=str(outdir))
        stack = build(app)
        assembly = app.synth()
        template_json = assembly.get_stack_by_name(stack.stack_name).template
        return Synthesized(stack, Template.from_json(template_json), template_json, outdir)

    return run


@pytest.fixture(scope="session")
def synthesized(synthesize) -> Callable[[Mapping[str, object]], Synthesized]:
    """Like `synthesize`, but each context is synthesized once per session and shared by the modules that
    read it (synthesis takes seconds). Only for tests that do not patch the app."""
    cache: dict[str, Synthesized] = {}

    def run(overrides: Mapping[str, object] = {}) -> Synthesized:  # noqa: B006 - read-only default
        key = json.dumps(overrides, sort_keys=True)
        if key not in cache:
            cache[key] = synthesize(overrides)
        return cache[key]

    return run
