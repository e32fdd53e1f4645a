"""Fixtures for running the real handler against moto, extended by cert_audit.emulator."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from types import SimpleNamespace

import boto3
import botocore.retries.standard
import pytest
from aws_lambda_powertools.utilities import parameters
from botocore.retries import bucket
from moto import mock_aws

from cert_audit import emulator, handler
from cert_audit.observability import metrics

REGION = "us-east-1"
ACCOUNT = "123456789012"


class _VirtualTime:
    """Time that the adaptive rate limiter waits for passes at once instead of on the wall clock."""

    offset = 0.0

    class Clock(bucket.Clock):
        def current_time(self) -> float:
            return super().current_time() + _VirtualTime.offset

    class Condition(threading.Condition):
        def wait(self, timeout: float | None = None) -> bool:
            _VirtualTime.offset += timeout or 0
            return False


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    """Retry back-off and rate limiting take no wall time, while botocore still decides, counts
    and makes every retry and its adaptive limiter computes its waits as it would."""
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    monkeypatch.setattr(bucket, "Clock", _VirtualTime.Clock)
    monkeypatch.setattr(bucket, "threading", SimpleNamespace(Lock=threading.Lock, Condition=_VirtualTime.Condition))


@pytest.fixture(autouse=True)
def fresh_state():
    """Every test starts cold: no cached clients, parameters or metrics from the previous one."""
    for clear in (handler.clients.cache_clear, parameters.clear_caches, metrics.clear_metrics):
        clear()
    yield
    for clear in (handler.clients.cache_clear, parameters.clear_caches, metrics.clear_metrics):
        clear()


@pytest.fixture
def aws():
    emulator.install()
    with mock_aws():
        yield


@pytest.fixture
def backend(aws):
    return emulator.iot_backend(REGION)


@dataclass
class Alerts:
    """The alert topic with an SQS queue subscribed, as a downstream consumer would have it."""

    topic_arn: str
    queue_url: str

    def received(self) -> list[dict]:
        """Every SNS envelope that reached the queue."""
        sqs = boto3.client("sqs", region_name=REGION)
        messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    def published(self) -> list[dict]:
        """The raw published messages (both `default` and `email`), as SNS got them."""
        return emulator.published_messages(self.topic_arn, REGION, ACCOUNT)


@pytest.fixture
def alerts(aws, monkeypatch) -> Alerts:
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic_arn = sns.create_topic(Name="iot-cert-audit-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    monkeypatch.setenv("ALERT_TOPIC_ARN", topic_arn)
    for name in ("CA_CERTIFICATE_IDS", "FLAGGED_STATUSES", "NOTIFY_ON", "PAGE_SIZE", "METRICS_DETAIL"):
        monkeypatch.delenv(name, raising=False)
    return Alerts(topic_arn, queue_url)


@pytest.fixture
def context() -> emulator.LambdaContext:
    return emulator.LambdaContext()


def metric_points(output: str) -> dict[tuple, float]:
    """{(metric name, ((dimension, value), ...)): value} from the EMF output."""
    return {(name, tuple(sorted(dims.items()))): value for name, dims, value, _ in emulator.metric_rows(output)}
