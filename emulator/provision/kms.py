"""KMS keys and aliases (key policies are stored, not evaluated)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.provision.registry import Provisioned, Request, provisioner, tags

if TYPE_CHECKING:
    from emulator.engine import Emulator


@provisioner("aws:kms/key:Key")
def key(emulator: Emulator, request: Request) -> Provisioned:
    params: dict[str, Any] = {
        "Description": request.get("description", ""),
        "KeyUsage": request.get("keyUsage", "ENCRYPT_DECRYPT"),
        "KeySpec": request.get("customerMasterKeySpec", "SYMMETRIC_DEFAULT"),
        "MultiRegion": bool(request.get("multiRegion", False)),
        "Tags": [{"TagKey": k, "TagValue": v} for k, v in tags(request).items()],
    }
    if request.get("policy"):
        params["Policy"] = request.get("policy")
    client = emulator.client("kms")
    metadata = client.create_key(**params)["KeyMetadata"]
    if request.get("enableKeyRotation"):
        client.enable_key_rotation(KeyId=metadata["KeyId"])
    return metadata["KeyId"], {"keyId": metadata["KeyId"], "arn": metadata["Arn"]}


@provisioner("aws:kms/alias:Alias")
def alias(emulator: Emulator, request: Request) -> Provisioned:
    name = request.physical()
    emulator.client("kms").create_alias(AliasName=name, TargetKeyId=request.get("targetKeyId"))
    return name, {"name": name}
