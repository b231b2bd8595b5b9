"""Conversions between the names, URLs and ARNs AWS APIs use for the same resource."""

from __future__ import annotations

from urllib.parse import urlparse

from emulator.program import ACCOUNT


def queue_arn_from_url(url: str) -> str:
    """`https://sqs.<region>.amazonaws.com/<account>/<name>` → the queue's ARN."""
    parsed = urlparse(url)
    parts = parsed.path.strip("/").split("/")
    if len(parts) != 2:
        raise ValueError(f"not an SQS queue URL: {url!r}")
    account, name = parts
    host = parsed.hostname or ""
    region = host.split(".")[1] if host.startswith("sqs.") else host.split(".")[0]
    return f"arn:aws:sqs:{region}:{account}:{name}"


def queue_url(queue_arn: str) -> str:
    """The queue's URL as moto (and AWS) forms it."""
    _, _, _, region, account, name = queue_arn.split(":")
    return f"https://sqs.{region}.amazonaws.com/{account}/{name}"


def function_arn(name: str, region: str) -> str:
    """A Lambda FunctionName (name, partial or full ARN, maybe qualified) → its ARN."""
    if name.startswith("arn:"):
        return name
    parts = name.split(":")
    if len(parts) == 1:  # name
        return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"
    if len(parts) == 2:  # name:qualifier
        return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{parts[0]}:{parts[1]}"
    return f"arn:aws:lambda:{region}:{name}"  # 123456789012:function:name[:qualifier]
