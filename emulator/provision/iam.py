"""IAM: roles, inline role policies, managed policies and their attachments.

The emulator's IAM guard reads these back from moto at call time, so what is enforced
is exactly what the program declared.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.program import physical_name
from emulator.provision.registry import Provisioned, Request, provisioner, tags

if TYPE_CHECKING:
    from emulator.engine import Emulator


@provisioner("aws:iam/role:Role")
def role(emulator: Emulator, request: Request) -> Provisioned:
    name = request.physical()
    params: dict[str, Any] = {
        "RoleName": name,
        "AssumeRolePolicyDocument": request.get("assumeRolePolicy"),
        "Path": request.get("path", "/"),
        "Description": request.get("description", ""),
        "MaxSessionDuration": request.int("maxSessionDuration", 3600),
        "Tags": [{"Key": k, "Value": v} for k, v in tags(request).items()],
    }
    if request.get("permissionsBoundary"):
        params["PermissionsBoundary"] = request.get("permissionsBoundary")
    client = emulator.client("iam")
    created = client.create_role(**params)["Role"]
    for inline in request.get("inlinePolicies") or []:
        client.put_role_policy(
            RoleName=name, PolicyName=inline["name"], PolicyDocument=inline["policy"]
        )
    for arn in request.get("managedPolicyArns") or []:
        client.attach_role_policy(RoleName=name, PolicyArn=arn)
    return name, {"name": name, "arn": created["Arn"], "uniqueId": created["RoleId"]}


@provisioner("aws:iam/rolePolicy:RolePolicy")
def role_policy(emulator: Emulator, request: Request) -> Provisioned:
    name = request.physical()
    emulator.client("iam").put_role_policy(
        RoleName=request.get("role"), PolicyName=name, PolicyDocument=request.get("policy")
    )
    return f"{request.get('role')}:{name}", {"name": name}


@provisioner("aws:iam/policy:Policy")
def policy(emulator: Emulator, request: Request) -> Provisioned:
    created = emulator.client("iam").create_policy(
        PolicyName=request.physical(),
        Path=request.get("path", "/"),
        PolicyDocument=request.get("policy"),
        Description=request.get("description", ""),
    )["Policy"]
    return created["Arn"], {
        "arn": created["Arn"],
        "name": created["PolicyName"],
        "policyId": created["PolicyId"],
    }


@provisioner("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
def role_policy_attachment(emulator: Emulator, request: Request) -> Provisioned:
    emulator.client("iam").attach_role_policy(
        RoleName=request.get("role"), PolicyArn=request.get("policyArn")
    )
    return physical_name(request.name), {}
