"""Security Hub's part of the stack (issue 11, context `securityHub`, default false): the function's
environment and the two permissions it then needs, each on the one resource it touches.

- `securityhub:BatchImportFindings` on the account's default product in this region
  (`product/<account>/default`), where a custom integration's findings go: the action takes the
  product resource type (Service Authorization Reference), so no other product is reachable.
- `securityhub:BatchUpdateFindings` on this region's hub (`hub/default`), its resource type: used
  only to set the workflow of suppressed findings (and back to NEW when a suppression ends),
  since an import cannot change the workflow of a finding Security Hub already has.
The function's memory (the state table) is what makes the import incremental; the stack always has it.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_


def product_arn(stack: Stack) -> str:
    """arn:<partition>:securityhub:<region>:<account>:product/<account>/default."""
    return stack.format_arn(
        service="securityhub",
        resource="product",
        resource_name=f"{stack.account}/default",
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def hub_arn(stack: Stack) -> str:
    """arn:<partition>:securityhub:<region>:<account>:hub/default."""
    return stack.format_arn(
        service="securityhub", resource="hub", resource_name="default", arn_format=ArnFormat.SLASH_RESOURCE_NAME
    )


def add_security_hub(role: iam.IRole, function: lambda_.Function, on: bool) -> None:
    """With `on`: SECURITY_HUB=true and the two statements; off: nothing at all."""
    if not on:
        return
    stack = Stack.of(function)
    function.add_environment("SECURITY_HUB", "true")
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="ImportFindingsIntoSecurityHub",
            actions=["securityhub:BatchImportFindings"],
            resources=[product_arn(stack)],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="SetTheWorkflowOfSuppressedFindings",
            actions=["securityhub:BatchUpdateFindings"],
            resources=[hub_arn(stack)],
        )
    )
