"""The provider plugin boots the way the Pulumi CLI starts it (`python provider/ <engine>`),
announces its port and serves its schema over gRPC on the loopback interface: everything
`pulumi package add` asks of it, short of the CLI itself."""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import grpc  # type: ignore[import-untyped]
import pytest
from consumers_support import PROVIDER_DIR, installed_components
from google.protobuf import empty_pb2  # type: ignore[import-untyped]
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

BOOT_SECONDS = 60
UNUSED_ENGINE = "127.0.0.1:1"  # only dialled to report logs, which these calls make none of


@pytest.fixture(scope="module")
def plugin() -> Iterator[Any]:
    installed_components()
    process = subprocess.Popen(
        [sys.executable, str(PROVIDER_DIR), UNUSED_ENGINE],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout=BOOT_SECONDS)
        port = process.stdout.readline().strip() if ready else ""
        if not port.isdigit():
            process.kill()
            _, errors = process.communicate(timeout=10)
            pytest.fail(f"the provider did not announce a port: {errors[-3000:]}")
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield provider_pb2_grpc.ResourceProviderStub(channel)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_the_plugin_serves_the_schema_inferred_in_process(
    plugin: Any, schema: dict[str, Any]
) -> None:
    response = plugin.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=30)
    served = json.loads(response.schema)
    assert sorted(served["resources"]) == sorted(schema["resources"])
    assert served["resources"] == schema["resources"]
    assert served["types"] == schema["types"]


def test_the_plugin_reports_the_distribution_version(plugin: Any) -> None:
    from importlib.metadata import version

    info = plugin.GetPluginInfo(empty_pb2.Empty(), timeout=30)
    assert info.version == version("orderflow")
