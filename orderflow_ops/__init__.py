"""Operator tools for orderflow's deployed pipelines (`python -m orderflow_ops ...`).

Every function takes boto3 clients instead of building its own, so the same code runs
against AWS (the CLI builds clients from the user's credentials) and against the
embedded emulator (tests pass moto-backed clients).
"""
