"""LateDataReconciler runtime: flag late orders, reconcile each once, sweep what was missed.

domain (pure rules) · ledger (DynamoDB) · events (PutEvents) · handler (Lambda entry points).
"""
