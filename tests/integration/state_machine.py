"""The state machine's real definition (infra/workflow.py) executed by moto's Step Functions
(its ASL interpreter, `stepfunctions.execute_state_machine`), each Lambda task running the real
handler in-process on the emulator.

Fidelity added to moto, and why:
- moto runs a Lambda function's code in Docker; here `LambdaFunction._invoke_lambda` runs
  cert_audit.handler.lambda_handler in-process instead, with its own Lambda context (a new
  request ID and 15 minutes on the tests' virtual clock), and answers as Lambda does: the
  handler's JSON result, or for an exception a function error whose payload carries
  errorType (the exception's class name) and errorMessage, which the state machine's Retry
  and Catch match.
- The ASL retrier's back-off (time.sleep in moto) passes on the virtual clock, recorded, so a
  retried task sees time pass as it would.
Everything else, the Pass, Task, Choice, Fail and Succeed states, the JSONPath of Parameters,
OutputPath and ResultPath, Retry and Catch, is moto's interpreter running the definition the
stack deploys.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from dataclasses import dataclass, field

import boto3
from moto.awslambda import models as lambda_models
from moto.core.config import default_user_config
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

from cert_audit import emulator, handler
from infra.workflow import definition
from tests.integration.conftest import REGION

FUNCTION_NAME = "iot-cert-audit"


@dataclass
class Machine:
    arn: str
    events: list[dict] = field(default_factory=list)  # every event the function was invoked with
    answers: list[dict] = field(default_factory=list)  # what each invocation answered (or raised)
    retry_waits: list[float] = field(default_factory=list)  # the state machine's back-off waits
    request_ids: list[str] = field(default_factory=list)

    def run(self, execution_input: dict | None = None, timeout_s: float = 300) -> dict:
        """Start an execution and wait for it to end: describe_execution, output parsed."""
        sfn = boto3.client("stepfunctions", region_name=REGION)
        arn = sfn.start_execution(
            stateMachineArn=self.arn, name=f"run-{uuid.uuid4()}", input=json.dumps(execution_input or {})
        )["executionArn"]
        give_up = time.monotonic() + timeout_s
        while (execution := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < give_up, "the execution did not end"
            time.sleep(0.02)
        execution["output"] = json.loads(execution["output"]) if execution.get("output") else None
        execution["history"] = [e["type"] for e in sfn.get_execution_history(executionArn=arn)["events"]]
        return execution

    @property
    def tasks(self) -> int:
        return len(self.events)


def install(monkeypatch, virtual_time, max_continuations: int) -> Machine:
    """A state machine of the stack's definition over a Lambda function that runs the handler."""
    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    machine = Machine(arn="")

    class BackOff:
        @staticmethod
        def sleep(seconds: float) -> None:
            machine.retry_waits.append(seconds)
            virtual_time.advance(seconds, None)

    monkeypatch.setattr(retrier_decl, "time", BackOff)

    def invoke(function, event=None):
        payload = json.loads(event) if isinstance(event, str | bytes) else (event or {})
        context = emulator.LambdaContext(aws_request_id=str(uuid.uuid4()), clock=virtual_time.monotonic)
        machine.events.append(payload)
        machine.request_ids.append(context.aws_request_id)
        try:
            answer = handler.lambda_handler(payload, context)
        except Exception as error:  # noqa: BLE001 - answered as Lambda answers an unhandled error
            machine.answers.append({"errorType": type(error).__name__, "errorMessage": str(error)})
            return json.dumps(machine.answers[-1]), True, ""
        machine.answers.append(answer)
        return json.dumps(answer), False, ""

    monkeypatch.setattr(lambda_models.LambdaFunction, "_invoke_lambda", invoke)
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="audit", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("cert_audit/handler.py", "")  # never run: invoke above runs the real one
    function_arn = boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=FUNCTION_NAME,
        Runtime="python3.11",
        Role=role,
        Handler="cert_audit.handler.lambda_handler",
        Code={"ZipFile": code.getvalue()},
        Timeout=900,
    )["FunctionArn"]
    machine.arn = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name="iot-cert-audit", definition=json.dumps(definition(function_arn, max_continuations)), roleArn=role
    )["stateMachineArn"]
    return machine
