"""Builds the CDK app: configuration from context, the stack, and the cdk-nag checks run on every synth."""

from __future__ import annotations

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infra.config import load_stack_config
from infra.constants import STACK_NAME
from infra.stack import AuditStack


def build(app: App) -> AuditStack:
    """Validate the context (raises ConfigError before any construct exists), add the stack and the checks."""
    config = load_stack_config(app.node.get_all_context())
    stack = AuditStack(app, STACK_NAME, config=config)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return stack
