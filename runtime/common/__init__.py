"""Pieces shared by every pipeline: dead letters, retries and lazily created AWS clients."""
