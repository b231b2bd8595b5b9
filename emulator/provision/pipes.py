"""EventBridge Pipes: stored in moto, run by `emulator.services.pipes`.

The emulator runs pipes from a DynamoDB stream to a Lambda function, the only kind the
stack builds. A pipe AWS would refuse (no starting position, a value out of range, a
filter with an operator Pipes do not know) fails the deploy; one the emulator cannot run
(another source or target, an enrichment, an input template) fails it too, saying so,
instead of being created and never moving data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.iam.key_policies import principal_may_use_key
from emulator.iam.policies import Principal
from emulator.program import ACCOUNT, REGION
from emulator.provision.registry import Provisioned, Request, pascal, provisioner, tags
from emulator.services.pipe_filters import FilterSet
from emulator.services.pipes import PipeConfig, PipesService
from orderflow.aws_facts import (
    KMS_PIPES_KEY_POLICY,
    PIPES_STREAM_BATCH_SIZE,
    PIPES_STREAM_BATCHING_WINDOW_SECONDS,
    PIPES_STREAM_MAX_RECORD_AGE_SECONDS,
    PIPES_STREAM_MAX_RETRY_ATTEMPTS,
    PIPES_STREAM_PARALLELIZATION_FACTOR,
    PIPES_STREAM_STARTING_POSITIONS,
    Bounds,
)

if TYPE_CHECKING:
    from emulator.engine import Emulator

# Pulumi's camelCase names whose API spelling is not the plain PascalCase of them.
_API_NAMES = {"dynamodbStreamParameters": "DynamoDBStreamParameters"}
_RANGES: dict[str, Bounds] = {  # DynamoDB stream source parameters
    "batchSize": PIPES_STREAM_BATCH_SIZE.value,
    "maximumBatchingWindowInSeconds": PIPES_STREAM_BATCHING_WINDOW_SECONDS.value,
    "maximumRetryAttempts": PIPES_STREAM_MAX_RETRY_ATTEMPTS.value,
    "maximumRecordAgeInSeconds": PIPES_STREAM_MAX_RECORD_AGE_SECONDS.value,
    "parallelizationFactor": PIPES_STREAM_PARALLELIZATION_FACTOR.value,
}


class InvalidPipeError(ValueError):
    """CreatePipe would refuse this pipe (ValidationException)."""


class UnsupportedPipeError(RuntimeError):
    """A pipe AWS accepts but the emulator cannot run."""


def _check_pipe_key(name: str, role_arn: str, key: str) -> None:
    """Pipes uses a customer managed key as the pipe's execution role: the key policy (or
    IAM, when the key policy delegates to the account) must let that role use it."""
    facts = KMS_PIPES_KEY_POLICY.value
    pipe_arn = f"arn:aws:pipes:{REGION}:{ACCOUNT}:pipe/{name}"
    context = ((str(facts["context_key"]).lower(), pipe_arn),)
    missing = principal_may_use_key(
        Principal.role(role_arn), key, tuple(facts["actions"]), context, REGION
    )
    if missing:
        raise PermissionError(
            f"pipe {name}: its role {role_arn} may not use the KMS key {key} "
            f"({', '.join(missing)}): Pipes uses the key as the pipe's execution role"
        )


def _stream_parameters(name: str, source: str, parameters: dict[str, Any]) -> dict[str, Any]:
    if ":dynamodb:" not in source or "/stream/" not in source:
        raise UnsupportedPipeError(
            f"pipe {name}: the emulator runs DynamoDB stream sources only, not {source}"
        )
    stream = dict(parameters.get("dynamodbStreamParameters") or {})
    positions = PIPES_STREAM_STARTING_POSITIONS.value
    if stream.get("startingPosition") not in positions:
        raise InvalidPipeError(
            f"pipe {name}: startingPosition must be {' or '.join(positions)}, "
            f"not {stream.get('startingPosition')!r}"
        )
    for key, bounds in _RANGES.items():
        if stream.get(key) is not None and int(stream[key]) not in bounds:
            raise InvalidPipeError(
                f"pipe {name}: {key} must be {bounds.low}..{bounds.high}, not {stream[key]}"
            )
    return stream


def _target_parameters(name: str, target: str, parameters: dict[str, Any]) -> str:
    """The Lambda invocation type; other targets and transformations are not emulated."""
    if target.split(":")[2] != "lambda":
        raise UnsupportedPipeError(f"pipe {name}: the emulator runs Lambda targets only")
    if parameters.get("inputTemplate"):
        raise UnsupportedPipeError(f"pipe {name}: input templates are not emulated")
    lambda_parameters = parameters.get("lambdaFunctionParameters") or {}
    invocation = str(lambda_parameters.get("invocationType") or "REQUEST_RESPONSE")
    if invocation not in ("REQUEST_RESPONSE", "FIRE_AND_FORGET"):
        raise InvalidPipeError(f"pipe {name}: unknown invocationType {invocation!r}")
    return invocation


def _int(parameters: dict[str, Any], key: str, default: int) -> int:
    value = parameters.get(key)
    return default if value is None else int(value)


@provisioner("aws:pipes/pipe:Pipe")
def pipe(emulator: Emulator, request: Request) -> Provisioned:
    name = request.physical()
    source, target = str(request.get("source")), str(request.get("target"))
    if request.get("enrichment"):
        raise UnsupportedPipeError(f"pipe {name}: enrichments are not emulated")
    source_parameters = dict(request.get("sourceParameters") or {})
    stream = _stream_parameters(name, source, source_parameters)
    target_parameters = dict(request.get("targetParameters") or {})
    invocation = _target_parameters(name, target, target_parameters)
    filters = tuple(
        str(f["pattern"])
        for f in (source_parameters.get("filterCriteria") or {}).get("filters") or []
    )
    FilterSet(filters)  # refuses what CreatePipe refuses, before anything is created
    params: dict[str, Any] = {
        "Name": name,
        "RoleArn": request.get("roleArn"),
        "Source": source,
        "Target": target,
        "SourceParameters": pascal(source_parameters, _API_NAMES),
        "TargetParameters": pascal(target_parameters),
        "DesiredState": request.get("desiredState") or "RUNNING",
        "Tags": tags(request),
    }
    for key in ("description", "logConfiguration", "kmsKeyIdentifier"):
        if request.get(key):
            params[key[:1].upper() + key[1:]] = pascal(request.get(key))
    if request.get("kmsKeyIdentifier"):
        _check_pipe_key(name, str(request.get("roleArn")), str(request.get("kmsKeyIdentifier")))
    arn = emulator.client("pipes").create_pipe(**params)["Arn"]
    dead_letter = (stream.get("deadLetterConfig") or {}).get("arn")
    config = PipeConfig(
        name=name,
        arn=arn,
        role_arn=str(request.get("roleArn")),
        source=source,
        target=target,
        filters=filters,
        batch_size=_int(stream, "batchSize", 100),
        batching_window_seconds=float(stream.get("maximumBatchingWindowInSeconds") or 0),
        maximum_retry_attempts=_int(stream, "maximumRetryAttempts", -1),
        maximum_record_age_seconds=_int(stream, "maximumRecordAgeInSeconds", -1),
        bisect=stream.get("onPartialBatchItemFailure") == "AUTOMATIC_BISECT",
        dead_letter_arn=str(dead_letter) if dead_letter else None,
        invocation_type=invocation,
        running=params["DesiredState"] == "RUNNING",
    )
    PipesService.of(emulator).add(config, starting_position=str(stream["startingPosition"]))
    return name, {"name": name, "arn": arn, "currentState": "RUNNING"}
