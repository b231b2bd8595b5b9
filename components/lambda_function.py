"""A Python Lambda function with everything a production function needs.

One builder, used by every component: its own role holding only the statements its code
needs (plus writing to its own log group and X-Ray), a managed log group with finite
retention, JSON logs, active tracing, the Powertools layer, arm64 by default, and error
and throttle alarms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

import orderflow.aws_facts
from orderflow.aws_facts import (
    LAMBDA_MSK_NETWORK_ACTIONS,
    LAMBDA_VPC_NETWORK_ACTIONS,
    LAMBDA_XRAY_ACTIONS,
)

from .alarms import metric_alarm
from .iam import Statement, policy_document, service_trust_policy
from .settings import LAMBDA_RUNTIME, Common

REPO_ROOT = Path(__file__).resolve().parent.parent
RUNTIME_DIR = REPO_ROOT / "runtime"
# The facts table the runtime reads (its limits), wherever orderflow is installed from.
FACTS_DIR = Path(orderflow.aws_facts.__file__).resolve().parent


@dataclass(frozen=True)
class FunctionSpec:
    """What one function is: its code family, handler, settings and permissions."""

    family: str
    """Folder under `runtime/` packaged with `runtime/common` (e.g. `validation`)."""
    handler: str
    """Dotted handler path inside the archive, e.g. `runtime.validation.handler.validate_batch`."""
    description: str
    statements: Sequence[Statement]
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    memory_mb: int = 512
    timeout_seconds: int = 60
    reserved_concurrency: int | None = None
    vpc_subnet_ids: Sequence[pulumi.Input[str]] = ()
    """Private subnets to run in (with `vpc_security_group_ids`); none: no VPC."""
    vpc_security_group_ids: Sequence[pulumi.Input[str]] = ()


@dataclass(frozen=True)
class PythonFunction:
    """The resources behind one function, for wiring and for tests."""

    function: aws.lambda_.Function
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    policy: aws.iam.RolePolicy
    alarms: list[aws.cloudwatch.MetricAlarm]

    @property
    def arn(self) -> pulumi.Output[str]:
        return self.function.arn


def runtime_archive(family: str) -> pulumi.AssetArchive:
    """The deployment package: `runtime/__init__.py`, `runtime/common/`, one family, and
    the AWS facts table as `orderflow/aws_facts/` (the runtime reads its limits there).

    Paths are checked here because a missing folder passes silently under Pulumi mocks.
    Every file goes in one by one (`_source_files`): a directory archive would also carry
    the `__pycache__` an installed package has, and the archive's hash would then depend
    on the machine that ran `pulumi up`.
    """
    family_dir = RUNTIME_DIR / family
    facts = sorted(FACTS_DIR.glob("*.py"))
    for required in (
        RUNTIME_DIR / "__init__.py",
        RUNTIME_DIR / "common",
        family_dir,
        FACTS_DIR / "__init__.py",
    ):
        if not required.exists():
            raise FileNotFoundError(
                f"Lambda code for {family!r} needs {required}, which is missing"
            )
    return pulumi.AssetArchive(
        {
            "runtime/__init__.py": pulumi.FileAsset(str(RUNTIME_DIR / "__init__.py")),
            **_source_files(RUNTIME_DIR / "common", "runtime/common"),
            **_source_files(family_dir, f"runtime/{family}"),
            **{f"orderflow/aws_facts/{f.name}": pulumi.FileAsset(str(f)) for f in facts},
        }
    )


def _source_files(folder: Path, prefix: str) -> dict[str, pulumi.Asset | pulumi.Archive]:
    """Every file under `folder` as an asset at `prefix/<relative path>`, in a stable
    order, leaving out the byte code Python writes next to the sources."""
    return {
        f"{prefix}/{path.relative_to(folder).as_posix()}": pulumi.FileAsset(str(path))
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def build_python_function(
    name: str, spec: FunctionSpec, common: Common, parent: pulumi.Resource
) -> PythonFunction:
    """Create the role, log group, policy, function and alarms for `spec`."""
    child = pulumi.ResourceOptions(parent=parent)
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-logs",
        name_prefix=f"/orderflow/lambda/{name}-",
        retention_in_days=common.log_retention_days,
        kms_key_id=common.kms_key_arn,
        opts=child,
    )
    role = aws.iam.Role(
        f"{name}-role",
        description=f"orderflow function {name}: {spec.description}",
        assume_role_policy=service_trust_policy("lambda.amazonaws.com"),
        opts=child,
    )
    statements = [
        *spec.statements,
        Statement(
            sid="WriteOwnLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[pulumi.Output.concat(log_group.arn, ":*")],
        ),
        Statement(
            # X-Ray trace segments take no resource ARN: AWS requires "*".
            sid="WriteTraces",
            actions=list(LAMBDA_XRAY_ACTIONS.value),
            resources=["*"],
        ),
    ]
    if spec.vpc_subnet_ids:
        statements.append(
            Statement(
                # Lambda manages ENIs in the VPC (for the function and, with an MSK
                # mapping, to reach the cluster); AWS's policies grant them on "*".
                sid="ManageNetworkInterfaces",
                actions=sorted(
                    {*LAMBDA_VPC_NETWORK_ACTIONS.value, *LAMBDA_MSK_NETWORK_ACTIONS.value}
                ),
                resources=["*"],
            )
        )
    policy = aws.iam.RolePolicy(
        f"{name}-policy", role=role.id, policy=policy_document(statements), opts=child
    )
    function = aws.lambda_.Function(
        name,
        description=spec.description,
        role=role.arn,
        runtime=LAMBDA_RUNTIME,
        architectures=[common.architecture],
        handler=spec.handler,
        code=runtime_archive(spec.family),
        memory_size=spec.memory_mb,
        timeout=spec.timeout_seconds,
        reserved_concurrent_executions=spec.reserved_concurrency,
        layers=[common.powertools_layer_arn],
        tracing_config={"mode": "Active"},
        logging_config={
            "log_format": "JSON",
            "log_group": log_group.name,
            "application_log_level": common.log_level.replace("WARNING", "WARN"),
            "system_log_level": "WARN",
        },
        environment={
            "variables": {
                "POWERTOOLS_SERVICE_NAME": name,
                "POWERTOOLS_METRICS_NAMESPACE": "orderflow",
                "LOG_LEVEL": common.log_level,
                **spec.environment,
            }
        },
        kms_key_arn=common.kms_key_arn,
        vpc_config=(
            aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=list(spec.vpc_subnet_ids),
                security_group_ids=list(spec.vpc_security_group_ids),
            )
            if spec.vpc_subnet_ids
            else None
        ),
        # The role's permissions must exist before the first invocation can happen.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[policy]),
    )
    alarms = [
        metric_alarm(
            f"{name}-{metric.lower()}-alarm",
            parent=parent,
            namespace="AWS/Lambda",
            metric_name=metric,
            dimensions={"FunctionName": function.name},
            description=f"orderflow {name}: Lambda {metric} > 0",
            alarm_actions=common.alarm_actions,
        )
        for metric in ("Errors", "Throttles")
    ]
    return PythonFunction(function, role, log_group, policy, alarms)


def invoke_statement(sid: str, functions: Sequence[PythonFunction]) -> Statement:
    """Permission to invoke exactly these functions (and their versions/aliases)."""
    resources: list[pulumi.Input[str]] = []
    for fn in functions:
        resources += [fn.arn, pulumi.Output.concat(fn.arn, ":*")]
    return Statement(sid=sid, actions=["lambda:InvokeFunction"], resources=resources)
