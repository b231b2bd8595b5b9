"""The orderflow component provider, as the Pulumi CLI runs it: `python <this folder> <engine>`.

`component_provider_host` infers the package schema (`orderflow:index:<Class>`) from the
hosted classes' annotations and serves `Construct` calls from programs in any Pulumi
language. It blocks until the engine shuts the provider down.
"""

from importlib.metadata import version

from orderflow_provider.hosted import COMPONENTS
from pulumi.provider.experimental import component_provider_host

if __name__ == "__main__":
    component_provider_host(COMPONENTS, "orderflow", version=version("orderflow"))
