"""Fixtures for running the real handler against moto, extended by cert_audit.emulator."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from cert_audit import calls, emulator, handler
from cert_audit.observability import metrics

REGION = "us-east-1"
ACCOUNT = "123456789012"


class VirtualTime:
    """Time in which the engine's waits (back-off, rate limit) pass at once: they are decided,
    counted and added to the clock as in production, and take no wall time. `advance` moves it
    on, as a slow call would."""

    def __init__(self):
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def sleep(self, seconds: float, interrupted: threading.Event) -> None:
        self.offset += seconds

    advance = sleep


@pytest.fixture(autouse=True)
def virtual_time(monkeypatch) -> VirtualTime:
    virtual = VirtualTime()
    monkeypatch.setattr(calls, "clock", virtual.monotonic)
    monkeypatch.setattr(calls, "sleep", virtual.sleep)
    return virtual


@pytest.fixture(autouse=True)
def fresh_state():
    """Every test starts cold: no cached clients, parameters or metrics from the previous one."""
    caches = (handler.clients.cache_clear, handler.client.cache_clear, parameters.clear_caches, metrics.clear_metrics)
    for clear in caches:
        clear()
    yield
    for clear in caches:
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


# Five pages of 10 (PAGE_SIZE=10): ten flagged certificates in the last pages.
PAGED_FLEET = ["ACTIVE"] * 40 + ["REVOKED"] * 5 + ["INACTIVE"] * 5


@pytest.fixture
def paged_pair(backend, alerts, monkeypatch) -> tuple[str, str]:
    """Two CAs of PAGED_FLEET, the only ones configured, PAGE_SIZE=10: (healthy, other); the
    tests tamper with the other's answers."""
    healthy, other = emulator.seed_ca(backend, "healthy"), emulator.seed_ca(backend, "other")
    emulator.seed_certificates(backend, healthy, PAGED_FLEET)
    emulator.seed_certificates(backend, other, PAGED_FLEET)
    monkeypatch.setenv("CA_CERTIFICATE_IDS", f"{healthy},{other}")
    monkeypatch.setenv("PAGE_SIZE", "10")
    return healthy, other


def create_table(name: str, key: str):
    """An on-demand DynamoDB table on moto with a string partition key; its client."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return dynamodb


@pytest.fixture
def context(virtual_time) -> emulator.LambdaContext:
    """A context whose remaining time runs on the virtual clock."""
    return emulator.LambdaContext(clock=virtual_time.monotonic)


def metric_points(output: str) -> dict[tuple, float]:
    """{(metric name, ((dimension, value), ...)): value} from the EMF output."""
    return {(name, tuple(sorted(dims.items()))): value for name, dims, value, _ in emulator.metric_rows(output)}
