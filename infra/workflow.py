"""The state machine's definition (Amazon States Language), as data: the construct deploys it
(infra/state_machine.py) and the tests execute exactly this on moto's Step Functions.

    Start (Pass) -> Audit (Task: the function) -> More? (Choice) -> Audit ... -> Done (Succeed)
                        | failed after its retries
                        v
                    Finish (Task: the function reports what the run has) -> Failed (Fail)

`Start` wraps the execution's input ({} from the schedule, {"notify": "always"} from the
digest, {"caCertificateIds": [...]} on demand) as the request every task gets, with no
checkpoint yet. `Audit` invokes the function with the request, the checkpoint and the bound on
continuations; the function returns the same shape with the next checkpoint, or with none when
the run is concluded. A task that keeps failing (Lambda's own errors and throttling, a timeout,
the function's exceptions) is retried with back-off, then `Finish` has the function report
what the run has (the rest ScanIncomplete) and the execution fails, which the alarm on failed
executions sees. A refused request (ConfigError) is not retried.

The loop (`Start` to `Failed`) reads nothing but `$.request` and `$.checkpoint`, so a later
Map state can run it per target account and region as its ItemProcessor, unchanged
(`audit_states`).
"""

from __future__ import annotations

# The function's own timeout (15 minutes) plus a minute: a task that has not answered by then is stuck.
TASK_TIMEOUT_S = 960
# Errors of the Lambda service (not of the function), worth retrying soon (AWS's recommendation
# for the Lambda integration).
LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
# What the function raises for a request it refuses (cert_audit.config.ConfigError): retrying
# cannot help.
BAD_REQUEST_ERRORS = ["ConfigError"]
# Everything else (a timeout, an exception of the function such as a publish or a part that
# failed): two more tries, 30 s then 60 s apart at most (full jitter). The handler keeps the
# run lock this long past a failed invocation (handler.HANDOVER_GRACE_S covers the sum).
TASK_RETRY = {"IntervalSeconds": 30, "MaxAttempts": 2, "BackoffRate": 2.0, "JitterStrategy": "FULL"}
SERVICE_RETRY = {"IntervalSeconds": 2, "MaxAttempts": 5, "BackoffRate": 2.0, "JitterStrategy": "FULL"}


def _invoke(function_arn: str, payload: dict) -> dict:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function_arn, "Payload": payload},
        "OutputPath": "$.Payload",
        "TimeoutSeconds": TASK_TIMEOUT_S,
    }


def audit_states(function_arn: str, max_continuations: int) -> dict:
    """The audit loop for one target: {"StartAt", "States"}, the unit a Map can run per target."""
    payload = {"request.$": "$.request", "checkpoint.$": "$.checkpoint", "maxContinuations": max_continuations}
    return {
        "StartAt": "Start",
        "States": {
            "Start": {
                "Type": "Pass",
                "Comment": "The execution's input is the request of every invocation of this run",
                "Parameters": {"request.$": "$", "checkpoint": None},
                "Next": "Audit",
            },
            "Audit": {
                **_invoke(function_arn, payload),
                "Comment": "Scan on from the checkpoint; returns the next checkpoint, none once the run is concluded",
                "Retry": [
                    {"ErrorEquals": BAD_REQUEST_ERRORS, "MaxAttempts": 0},
                    {"ErrorEquals": LAMBDA_SERVICE_ERRORS, **SERVICE_RETRY},
                    {"ErrorEquals": ["States.ALL"], **TASK_RETRY},
                ],
                "Catch": [
                    {"ErrorEquals": BAD_REQUEST_ERRORS, "ResultPath": "$.failure", "Next": "BadRequest"},
                    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Finish"},
                ],
                "Next": "More?",
            },
            "More?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.checkpoint", "IsNull": False, "Next": "Audit"}],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
            "Finish": {
                **_invoke(function_arn, {**payload, "failure.$": "$.failure"}),
                "Comment": "Report what the run has: the CAs not finished are ScanIncomplete",
                "Retry": [{"ErrorEquals": LAMBDA_SERVICE_ERRORS, **SERVICE_RETRY}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.finishFailure", "Next": "Failed"}],
                "Next": "Failed",
            },
            "Failed": {
                "Type": "Fail",
                "Error": "AuditTaskFailed",
                "Cause": "An invocation kept failing after its retries; the run reported what it had (see its errors)",
            },
            "BadRequest": {
                "Type": "Fail",
                "Error": "BadRequest",
                "Cause": "The function refused the execution's input (the task's ConfigError says why)",
            },
        },
    }


def definition(function_arn: str, max_continuations: int) -> dict:
    """The state machine: the audit loop for the function's own account and region."""
    return {
        "Comment": "IoT certificate audit: invokes the function until every CA is scanned, then it reports once",
        **audit_states(function_arn, max_continuations),
    }
