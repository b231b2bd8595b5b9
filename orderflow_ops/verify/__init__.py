"""`verify`: AWS itself checks every workflow definition and policy document of a stack.

Documents come from the program (run under the emulator's mocks, before any deploy) or
from a deployed stack (read through public APIs from its outputs); each is sent to Step
Functions' ValidateStateMachineDefinition or IAM Access Analyzer's ValidatePolicy.
"""

from orderflow_ops.verify.checks import Finding, Verdict, verify_documents
from orderflow_ops.verify.documents import (
    Document,
    documents_from_outputs,
    documents_from_stack,
)

__all__ = [
    "Document",
    "Finding",
    "Verdict",
    "documents_from_outputs",
    "documents_from_stack",
    "verify_documents",
]
