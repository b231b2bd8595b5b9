"""What is derived from the components' code: their documentation tables and the component
provider's hosted classes. `python -m docs.generate` regenerates both."""
