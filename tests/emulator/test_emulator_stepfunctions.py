"""Executions run in the interpreter; moto's records and boto3 reads stay in step."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from botocore.exceptions import ClientError

from emulator.engine import Emulator
from emulator.program import Stack
from emulator.services.stepfunctions import UnsupportedIntegrationError, service_error
from emulator.states import TaskContext

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "states.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def _definition(queue_url: str) -> str:
    return json.dumps(
        {
            "StartAt": "Send",
            "States": {
                "Send": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage",
                    "Parameters": {"QueueUrl": queue_url, "MessageBody.$": "$"},
                    "ResultSelector": {"sent.$": "$.MessageId"},
                    "End": True,
                }
            },
        }
    )


def program() -> None:
    """Two machines sending to a queue: one role may, the other may not."""
    queue = aws.sqs.Queue("outbox")
    for name, actions in (("sender", ["sqs:SendMessage"]), ("mute", ["sqs:GetQueueUrl"])):
        role = aws.iam.Role(f"{name}-role", assume_role_policy=TRUST)
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": actions, "Resource": queue.arn}],
                }
            ),
        )
        aws.sfn.StateMachine(
            name,
            role_arn=role.arn,
            definition=queue.url.apply(_definition),
            opts=pulumi.ResourceOptions(depends_on=[policy]),
        )


@pytest.fixture(scope="module")
def machines(bare: Emulator) -> Stack:
    return bare.deploy_program(program)


def _start(
    emulator: Emulator, stack: Stack, machine: str, name: str, payload: dict[str, Any]
) -> str:
    arn = stack.output_of("aws:sfn/stateMachine:StateMachine", machine, "arn")
    started = emulator.client("stepfunctions").start_execution(
        stateMachineArn=arn, name=name, input=json.dumps(payload)
    )
    return str(started["executionArn"])


def test_an_execution_runs_its_tasks_and_boto3_sees_the_outcome(
    bare: Emulator, machines: Stack
) -> None:
    sfn = bare.client("stepfunctions")
    execution = _start(bare, machines, "sender", "order-1", {"orderId": "1"})
    assert (
        sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    )  # asynchronous, as in AWS
    bare.run_until_idle()
    described = sfn.describe_execution(executionArn=execution)
    assert described["status"] == "SUCCEEDED"
    assert set(json.loads(described["output"])) == {"sent"}
    machine = machines.output_of("aws:sfn/stateMachine:StateMachine", "sender", "arn")
    listed = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert [(e["name"], e["status"]) for e in listed] == [("order-1", "SUCCEEDED")]
    history = sfn.get_execution_history(executionArn=execution)["events"]
    assert history[0]["type"] == "ExecutionStarted"
    assert history[-1]["type"] == "ExecutionSucceeded"
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e
    ]
    assert entered == ["Send"]
    url = machines.output_of("aws:sqs/queue:Queue", "outbox", "url")
    (message,) = bare.client("sqs").receive_message(QueueUrl=url)["Messages"]
    assert json.loads(message["Body"]) == {"orderId": "1"}


def test_a_task_the_role_may_not_perform_fails_with_the_service_error(
    bare: Emulator, machines: Stack
) -> None:
    execution = _start(bare, machines, "mute", "order-2", {"orderId": "2"})
    bare.run_until_idle()
    described = bare.client("stepfunctions").describe_execution(executionArn=execution)
    assert described["status"] == "FAILED"
    assert described["error"] == "SQS.AmazonSQSException"
    assert "AccessDenied" in described["cause"]
    assert bare.errors[-1]["kind"] == "execution"
    assert bare.guard.denials[-1].action == "sqs:SendMessage"


def test_start_execution_is_idempotent_by_name_while_running(
    bare: Emulator, machines: Stack
) -> None:
    first = _start(bare, machines, "sender", "order-3", {"orderId": "3"})
    assert _start(bare, machines, "sender", "order-3", {"orderId": "3"}) == first
    with pytest.raises(ClientError, match="ExecutionAlreadyExists"):
        _start(bare, machines, "sender", "order-3", {"orderId": "other"})
    runs = len(bare.states.executions)
    bare.run_until_idle()
    assert len(bare.states.executions) == runs + 1  # ran once
    with pytest.raises(ClientError, match="ExecutionAlreadyExists"):
        _start(bare, machines, "sender", "order-3", {"orderId": "3"})  # closed: AWS refuses


def test_state_transitions_are_metered(bare: Emulator, machines: Stack) -> None:
    machine = machines.output_of("aws:sfn/stateMachine:StateMachine", "sender", "arn")
    before = bare.meter.state_transitions[machine]
    _start(bare, machines, "sender", "order-4", {"orderId": "4"})
    bare.run_until_idle()
    assert bare.meter.state_transitions[machine] - before == 2  # start + one state


def test_service_errors_get_step_functions_names() -> None:
    def client_error(code: str) -> ClientError:
        return ClientError(
            {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": 400}},
            "Op",
        )

    assert (
        service_error("lambda", client_error("AccessDeniedException")).error
        == "Lambda.AWSLambdaException"
    )
    assert (
        service_error("lambda", client_error("TooManyRequestsException")).error
        == "Lambda.TooManyRequestsException"
    )
    assert service_error("dynamodb", client_error("ConditionalCheckFailedException")).error == (
        "DynamoDB.ConditionalCheckFailedException"
    )
    assert service_error("sqs", client_error("AccessDenied")).error == "SQS.AmazonSQSException"


def test_an_integration_the_emulator_lacks_fails_loudly(bare: Emulator) -> None:
    context = TaskContext(
        "arn:x", "x", "arn:m", "S", "arn:aws:iam::123456789012:role/r", "STANDARD"
    )
    with pytest.raises(UnsupportedIntegrationError, match="glue:startJobRun"):
        bare.states.dispatcher.invoke(
            "arn:aws:states:::glue:startJobRun", {}, role_arn=context.role_arn, context=context
        )
