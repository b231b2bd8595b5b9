"""Send each document to the AWS API that validates it, and judge the findings.

An ERROR or SECURITY_WARNING finding (Access Analyzer) or an ERROR diagnostic (Step
Functions) fails the run; warnings and suggestions are reported and pass. A document the
API could not check (denied, throttled, invalid request) also fails the run: an
unchecked document is not a checked one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from orderflow_ops.verify.documents import Document

BLOCKING = frozenset({"ERROR", "SECURITY_WARNING"})
"""Finding types and severities that fail `verify` (the issue's rule)."""
API_ERROR = "API_ERROR"
"""Our severity for a document the validating API refused to check."""


@dataclass(frozen=True)
class Finding:
    """One thing AWS said about one document (or could not say)."""

    document: str
    severity: str
    code: str
    message: str
    location: str = ""

    @property
    def blocking(self) -> bool:
        return self.severity in BLOCKING or self.severity == API_ERROR

    def line(self) -> str:
        where = f" at {self.location}" if self.location else ""
        return f"{self.severity:<16} {self.document}: {self.code}{where}: {self.message}"


@dataclass
class Verdict:
    """Every document checked and every finding; `ok` when nothing blocks."""

    checked: list[Document] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.blocking for f in self.findings)

    def lines(self) -> list[str]:
        machines = sum(1 for d in self.checked if d.kind == "state-machine")
        policies = len(self.checked) - machines
        blocking = [f for f in self.findings if f.blocking]
        shown = sorted(self.findings, key=lambda f: (not f.blocking, f.document))
        verdict = "OK" if self.ok else f"FAILED ({len(blocking)} blocking finding(s))"
        return [
            *(f.line() for f in shown),
            f"verify: {machines} state machine(s), {policies} policy document(s) checked; "
            f"{len(self.findings)} finding(s): {verdict}",
        ]


def _api_error(document: Document, error: Exception) -> Finding:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code", "ClientError"))
        message = str(details.get("Message", error))
    else:
        code, message = type(error).__name__, str(error)
    return Finding(document.name, API_ERROR, code, f"could not be validated: {message}")


def check_state_machine(sfn: Any, document: Document) -> list[Finding]:
    """ValidateStateMachineDefinition, with warnings (the API returns only errors by default)."""
    request: dict[str, Any] = {"definition": document.text, "severity": "WARNING"}
    if document.machine_type:
        request["type"] = document.machine_type
    response = sfn.validate_state_machine_definition(**request)
    findings = [
        Finding(
            document.name,
            str(d.get("severity", "ERROR")),
            str(d.get("code", "")),
            str(d.get("message", "")),
            str(d.get("location", "")),
        )
        for d in response.get("diagnostics") or []
    ]
    if response.get("result") == "FAIL" and not any(f.blocking for f in findings):
        findings.append(Finding(document.name, "ERROR", "FAIL", "the definition is invalid"))
    if response.get("truncated"):
        findings.append(
            Finding(document.name, "WARNING", "TRUNCATED", "more diagnostics than returned")
        )
    return findings


def check_policy(analyzer: Any, document: Document) -> list[Finding]:
    """ValidatePolicy, every page of findings."""
    request: dict[str, Any] = {
        "policyDocument": document.text,
        "policyType": document.policy_type,
    }
    if document.resource_type:
        request["validatePolicyResourceType"] = document.resource_type
    findings: list[Finding] = []
    while True:
        response = analyzer.validate_policy(**request)
        for found in response.get("findings") or []:
            paths = [
                ".".join(str(step.get("value", step.get("index", ""))) for step in location["path"])
                for location in found.get("locations") or []
                if location.get("path")
            ]
            findings.append(
                Finding(
                    document.name,
                    str(found.get("findingType", "")),
                    str(found.get("issueCode", "")),
                    str(found.get("findingDetails", "")),
                    ", ".join(paths),
                )
            )
        token = response.get("nextToken")
        if not token:
            return findings
        request["nextToken"] = token


def verify_documents(documents: Iterable[Document], *, sfn: Any, analyzer: Any) -> Verdict:
    """Check every document; an API failure on one is a finding, the others still run."""
    verdict = Verdict()
    for document in documents:
        verdict.checked.append(document)
        try:
            if document.kind == "state-machine":
                verdict.findings += check_state_machine(sfn, document)
            else:
                verdict.findings += check_policy(analyzer, document)
        except (ClientError, BotoCoreError) as error:
            verdict.findings.append(_api_error(document, error))
    return verdict
