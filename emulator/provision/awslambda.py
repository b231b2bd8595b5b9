"""Lambda functions (code unpacked for the in-process runtime) and their permissions.

The function is also created in moto, so `get_function` and `invoke` work with boto3.
Layers are not created: the Powertools installed locally stands in for the public
layer (moto would refuse a layer from another account), the configured ARNs stay in the
resource's state. A `vpcConfig` is kept (with a derived `vpcId`) but not given to moto:
there is no network to attach to.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from emulator.lambdas.archive import materialise, zip_directory
from emulator.lambdas.runtime import FunctionConfig
from emulator.program import REGION
from emulator.provision.registry import Provisioned, Request, pascal, provisioner, tags

if TYPE_CHECKING:
    from emulator.engine import Emulator


@provisioner("aws:lambda/function:Function")
def function(emulator: Emulator, request: Request) -> Provisioned:
    name = request.physical()
    code_dir = emulator.workdir / "lambda" / name
    materialise(request.get("code"), code_dir)
    environment = dict((request.get("environment") or {}).get("variables") or {})
    logging = request.get("loggingConfig") or {}
    dead_letter = (request.get("deadLetterConfig") or {}).get("targetArn")
    params: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": request.get("runtime", "python3.13"),
        "Role": request.get("role"),
        "Handler": request.get("handler"),
        "Code": {"ZipFile": zip_directory(code_dir)},
        "Description": request.get("description", ""),
        "Timeout": request.int("timeout", 3),
        "MemorySize": request.int("memorySize", 128),
        "Environment": {"Variables": environment},
        "Architectures": request.get("architectures") or ["x86_64"],
        "TracingConfig": {"Mode": (request.get("tracingConfig") or {}).get("mode", "PassThrough")},
        "Tags": tags(request),
    }
    if logging:
        params["LoggingConfig"] = pascal(logging)
    if dead_letter:
        params["DeadLetterConfig"] = {"TargetArn": dead_letter}
    if request.get("kmsKeyArn"):
        params["KMSKeyArn"] = request.get("kmsKeyArn")
    client = emulator.client("lambda")
    created = client.create_function(**params)
    if request.get("reservedConcurrentExecutions") is not None:
        client.put_function_concurrency(
            FunctionName=name,
            ReservedConcurrentExecutions=request.int("reservedConcurrentExecutions"),
        )
    arn = created["FunctionArn"]
    emulator.runtime.register(
        FunctionConfig(
            name=name,
            arn=arn,
            role_arn=request.get("role"),
            handler=request.get("handler"),
            code_dir=code_dir,
            runtime=params["Runtime"],
            memory_mb=params["MemorySize"],
            timeout_seconds=params["Timeout"],
            environment=environment,
            log_group=logging.get("logGroup") or f"/aws/lambda/{name}",
            log_format=logging.get("logFormat", "Text"),
            application_log_level=logging.get("applicationLogLevel", ""),
            tracing=params["TracingConfig"]["Mode"] == "Active",
            dead_letter_arn=dead_letter,
        )
    )
    return name, {
        "name": name,
        "arn": arn,
        "qualifiedArn": f"{arn}:$LATEST",
        "invokeArn": (
            f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{arn}/invocations"
        ),
        "version": "$LATEST",
        "sourceCodeHash": created["CodeSha256"],
        "codeSize": created["CodeSize"],
        "lastModified": created["LastModified"],
        **_vpc_config(request),
    }


def _vpc_config(request: Request) -> dict[str, Any]:
    """A VPC function's config as AWS reports it; no ENIs exist (the emulator has no network)."""
    config = request.get("vpcConfig") or {}
    if not config.get("subnetIds"):
        return {}
    digest = hashlib.sha256(",".join(sorted(config["subnetIds"])).encode()).hexdigest()
    return {"vpcConfig": {**config, "vpcId": f"vpc-{digest[:17]}"}}


@provisioner("aws:lambda/permission:Permission")
def permission(emulator: Emulator, request: Request) -> Provisioned:
    statement_id = request.get("statementId") or request.physical("statementId")
    params: dict[str, Any] = {
        "FunctionName": request.get("function"),
        "StatementId": statement_id,
        "Action": request.get("action"),
        "Principal": request.get("principal"),
    }
    for key in ("sourceArn", "sourceAccount", "qualifier"):
        if request.get(key):
            params[key[:1].upper() + key[1:]] = request.get(key)
    emulator.client("lambda").add_permission(**params)
    return statement_id, {"statementId": statement_id}
