"""The certificate inventory's infrastructure (issue 13): its context, its DynamoDB table, the function's
permissions and environment for it.

Context (cdk.json or -c key=value), each validated by the engine's own parser, so the stack refuses
exactly what the function would refuse at run time:
- `inventory` (true): the cache table and the certificate checks; false: neither, and no permission.
- `inventoryRateLimit` (5 DescribeCertificate calls a second, half its default quota),
  `inventoryTimeBudgetSeconds` (300 s a run from the scan's start, beside it).
- `deviceExpiryWarningDays` (30), `minRsaKeyBits` (2048), `minEcKeyBits` (256),
  `weakSignatureHashes` (SHA1, MD5): what the checks call expiring and weak.
- `scope`: `ca` (the registered CAs' certificates) or `account` (every certificate, ListCertificates).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cert_audit.config import (
    DEFAULT_INVENTORY_RATE_LIMIT,
    DEFAULT_INVENTORY_TIME_BUDGET_S,
    ConfigError,
    inventory_settings,
)

PARTITION_KEY = "certificateId"
TTL_ATTRIBUTE = "expiresAt"

# Context key -> the function's environment variable it sets, with its default.
CONTEXT = {
    "inventoryRateLimit": ("INVENTORY_RATE_LIMIT", DEFAULT_INVENTORY_RATE_LIMIT),
    "inventoryTimeBudgetSeconds": ("INVENTORY_TIME_BUDGET_SECONDS", DEFAULT_INVENTORY_TIME_BUDGET_S),
    "deviceExpiryWarningDays": ("DEVICE_EXPIRY_WARNING_DAYS", 30),
    "minRsaKeyBits": ("MIN_RSA_KEY_BITS", 2048),
    "minEcKeyBits": ("MIN_EC_KEY_BITS", 256),
    "weakSignatureHashes": ("WEAK_SIGNATURE_HASHES", ["SHA1", "MD5"]),
    "scope": ("AUDIT_SCOPE", "ca"),
}
DEFAULTS: dict[str, object] = {"inventory": True, **{key: default for key, (_, default) in CONTEXT.items()}}


@dataclass(frozen=True)
class InventoryConfig:
    on: bool = True
    environment: tuple[tuple[str, str], ...] = ()  # the checks' and budget's variables, as the function reads them
    scope: str = "ca"


def _text(value: object) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return "" if value is None else str(value).strip()


def parse_inventory_context(context: Mapping[str, object]) -> tuple[InventoryConfig | None, list[str]]:
    """The inventory's settings from the context, or None and the problems, each naming its context key."""
    problems = []
    on = context.get("inventory", DEFAULTS["inventory"])
    if isinstance(on, str) and on.strip().lower() in ("true", "false"):
        on = on.strip().lower() == "true"
    if not isinstance(on, bool):
        problems.append(f"inventory: {on!r} is not allowed; choose true or false")
    values = {key: context[key] if context.get(key) is not None else default for key, default in DEFAULTS.items()}
    environment = {variable: _text(values[key]) for key, (variable, _) in CONTEXT.items()}
    try:
        settings = inventory_settings(environment)
    except ConfigError as error:
        message = str(error)
        for key, (variable, _) in CONTEXT.items():
            message = message.replace(f"{variable}:", f"{key}:")
        problems += message.split("; ")
    if problems:
        return None, problems
    return InventoryConfig(on, tuple(sorted(environment.items())), settings["scope"]), []


def inventory_table(scope: Construct) -> dynamodb.Table:
    """The cache of DescribeCertificate (INVENTORY_TABLE_NAME): one item per certificate, expiring (TTL)
    when no run has listed its certificate for 90 days."""
    return dynamodb.Table(
        scope,
        "InventoryTable",
        partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
        time_to_live_attribute=TTL_ATTRIBUTE,
        # A Scan a run and a few writes (new certificates, a refresh every two months): on-demand.
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        # Everything in it can be described again from IoT (at 10 requests/s: a day per 860,000
        # certificates); deleting it with the stack costs that, nothing else. No point-in-time
        # recovery for the same reason (acknowledged in nag.py).
        removal_policy=RemovalPolicy.DESTROY,
    )


def add_inventory(scope: Construct, role: iam.IRole, function: lambda_.Function, config: InventoryConfig):
    """The inventory's table (None when off), the function's permissions and environment for it and
    for the scope."""
    for name, value in config.environment:
        function.add_environment(name, value)
    if config.scope == "account":
        # ListCertificates takes no resource type (Service Authorization Reference): "*" only.
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="ListEveryCertificate", actions=["iot:ListCertificates"], resources=["*"])
        )
    if not config.on:
        return None
    table = inventory_table(scope)
    _grant(role, table, Stack.of(scope))
    function.add_environment("INVENTORY_TABLE_NAME", table.table_name)
    return table


def _grant(role: iam.IRole, table: dynamodb.Table, stack: Stack) -> None:
    # DescribeCertificate takes the cert resource type; the certificates are found at run time.
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="DescribeDeviceCertificates",
            actions=["iot:DescribeCertificate"],
            resources=[
                stack.format_arn(
                    service="iot", resource="cert", resource_name="*", arn_format=ArnFormat.SLASH_RESOURCE_NAME
                )
            ],
        )
    )
    # The things and policies still attached to flagged certificates (findings only), read on
    # certificates found at run time: "*" (see nag.py).
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="ListCertificateAttachments",
            actions=["iot:ListPrincipalThingsV2", "iot:ListAttachedPolicies"],
            resources=["*"],
        )
    )
    # Read the cache once a run, write new and refreshed entries; no GetItem, Query, UpdateItem, DeleteItem.
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="ReadAndFillTheInventory",
            actions=["dynamodb:Scan", "dynamodb:BatchWriteItem"],
            resources=[table.table_arn],
        )
    )


def inventory_widgets(namespace: str, service: str, period) -> list:
    """The dashboard's row for the inventory: the renewal forecast (ACTIVE certificates expiring in
    this and each of the next 11 months, as bars, from the latest run), the ACTIVE certificates by
    key and by signature hash (pies), and how much of the fleet the checks cover."""
    from aws_cdk import aws_cloudwatch as cw

    def metric(name: str, dimensions: dict[str, str], label: str) -> cw.Metric:
        return cw.Metric(
            namespace=namespace,
            metric_name=name,
            dimensions_map={"service": service, **dimensions},
            statistic="Maximum",
            period=period,
            label=label,
        )

    def search(dimension: str) -> cw.MathExpression:
        seconds = int(period.to_seconds())
        return cw.MathExpression(
            expression=(
                f"SEARCH('{{{namespace},service,{dimension}}} MetricName=\"ActiveCertificates\"', 'Maximum', {seconds})"
            ),
            label="",
            period=period,
        )

    months = ["this month", *(f"+{n} month{'s' if n > 1 else ''}" for n in range(1, 12))]
    return [
        cw.GraphWidget(
            title="Renewal forecast: ACTIVE certificates expiring per month (next 12 months)",
            left=[metric("ExpiringCertificates", {"MonthsAhead": str(n)}, label) for n, label in enumerate(months)],
            view=cw.GraphWidgetView.BAR,
            width=12,
        ),
        cw.GraphWidget(
            title="ACTIVE certificates by key", left=[search("KeyType")], view=cw.GraphWidgetView.PIE, width=4
        ),
        cw.GraphWidget(
            title="ACTIVE certificates by signature hash",
            left=[search("SignatureHash")],
            view=cw.GraphWidgetView.PIE,
            width=4,
        ),
        cw.SingleValueWidget(
            title="Inventory coverage (% of listed certificates described)",
            metrics=[metric("InventoryCoverage", {}, "Coverage"), metric("InventoryRemaining", {}, "Remaining")],
            width=4,
        ),
    ]
