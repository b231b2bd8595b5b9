"""The orderflow component provider's code (the Pulumi CLI runs `provider/__main__.py`).

`hosted` is generated from components/ by `python -m docs.generate`.
"""
