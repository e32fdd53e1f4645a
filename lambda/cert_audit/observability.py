"""The one Logger, Tracer and Metrics of the function, shared by every module.

Service name and namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE; the defaults below are the product's.

The X-Ray SDK is imported only where tracing is on: in Lambda, unless
POWERTOOLS_TRACE_DISABLED says otherwise (Powertools' own rule). Anywhere else (the command
line, tests) `tracer` is a stand-in with the same calls that does nothing: importing the SDK
costs start-up time and builds an X-Ray client from the local AWS configuration, which fails
on an unknown AWS_PROFILE or a malformed config file before the CLI can say so in one line.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

from aws_lambda_powertools import Logger, Metrics

DEFAULT_SERVICE = "iot-cert-audit"
DEFAULT_NAMESPACE = "IoTCertificateAudit"

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", DEFAULT_SERVICE)
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", DEFAULT_NAMESPACE)


def tracing_on(env=os.environ) -> bool:
    """Powertools' rule (Tracer._is_tracer_disabled): in Lambda and not in SAM local or Chalice
    local, unless POWERTOOLS_TRACE_DISABLED is true."""
    if env.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in ("1", "y", "yes", "t", "true", "on"):
        return False
    in_emulator = env.get("AWS_SAM_LOCAL") or env.get("AWS_CHALICE_CLI_MODE")
    return bool(env.get("LAMBDA_TASK_ROOT")) and not in_emulator


class _NoSubsegment:
    def put_annotation(self, key: str, value) -> None:
        pass

    def put_metadata(self, key: str, value, namespace: str = "default") -> None:
        pass


class _NoProvider:
    @contextlib.contextmanager
    def in_subsegment(self, name: str | None = None, **_) -> Iterator[_NoSubsegment]:
        yield _NoSubsegment()


class NoTracer:
    """The calls of Powertools' Tracer that this package makes, doing nothing."""

    provider = _NoProvider()

    def capture_lambda_handler(self, lambda_handler: Callable | None = None, **_) -> Callable:
        if lambda_handler is None:  # used as @tracer.capture_lambda_handler(capture_response=False)
            return lambda handler: handler
        return lambda_handler


def make_tracer():
    if not tracing_on():
        return NoTracer()
    from aws_lambda_powertools import Tracer

    # Only botocore is traced: every IoT page and the SNS publish appear as subsegments.
    return Tracer(patch_modules=["botocore"])


logger = Logger()
tracer = make_tracer()
metrics = Metrics()
