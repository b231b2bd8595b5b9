"""Lambda code for the orderflow pipelines.

Kept free of Pulumi and of import-time AWS calls so each handler cold-starts quickly and
imports cleanly in tests.
"""
