"""Check every AWS call made on behalf of a role (or a service) against its policies.

`botocore.client.BaseClient._make_api_call` is wrapped while the emulator runs. The
caller is the "current principal" (a context variable set around a Lambda invocation,
a state machine task or a rule delivery); calls made with no principal (the emulator
seeding data, a test reading results) are not checked. A call with a principal is
mapped to the IAM actions and resource ARNs it needs (`emulator.iam.actions`), the
role's inline and attached policies are read from moto's IAM backend and the target's
resource policy from the service's backend, and a denied call raises the ClientError AWS
would send, after recording the denial.

A handler that calls AWS from its own worker threads would lose the context variable;
the innermost principal entered on any thread is used as a fallback, so such calls are
still checked against the invoking role. Under interleaving (`emulator.interleave`) the
scheduler's own threads carry their context (no fallback), the fallback only considers
principals entered by the thread now holding the baton, and every checked call is a
possible switch point (`interleave.checkpoint()` before it is authorized and made).
"""

from __future__ import annotations

import contextvars
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

import botocore.client
from botocore.exceptions import ClientError
from moto.iam.access_control import PermissionResult
from moto.iam.exceptions import NotFoundException
from moto.iam.models import iam_backends
from moto.s3.models import FakeBucket

from emulator import interleave
from emulator.iam.actions import Need, UnmappedOperationError, needs_for
from emulator.iam.key_policies import encrypted_target_needs, key_use_decision
from emulator.iam.policies import Decision, Principal, decide, resource_policy_result
from emulator.iam.resource_policies import resource_policy
from emulator.program import ACCOUNT

_CURRENT: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "emulator_principal", default=None
)
_ENTERED: list[tuple[Principal, threading.Thread]] = []  # innermost last: other threads' fallback
_ENTERED_LOCK = threading.Lock()

# Calls that put data into a queue or topic: with a customer managed key, they use the key.
_SENDS_ENCRYPTED = frozenset(
    {
        ("sqs", "SendMessage"),
        ("sqs", "SendMessageBatch"),
        ("sns", "Publish"),
        ("sns", "PublishBatch"),
    }
)

# The error code each service answers a denied call with.
_DENIED_CODES = {
    "s3": "AccessDenied",
    "sqs": "AccessDenied",
    "cloudwatch": "AccessDenied",
    "sns": "AuthorizationError",
}


@dataclass(frozen=True)
class Denial:
    """One refused call, as reported in `iam_denied`."""

    principal: str
    action: str
    resource: str

    def as_dict(self) -> dict[str, str]:
        return {"principal": self.principal, "action": self.action, "resource": self.resource}


@contextmanager
def acting_as(principal: Principal | None) -> Iterator[None]:
    """Make AWS calls inside the block on behalf of `principal` (None: unchecked)."""
    token = _CURRENT.set(principal)
    entry = (principal, threading.current_thread()) if principal is not None else None
    if entry is not None:
        with _ENTERED_LOCK:
            _ENTERED.append(entry)
    try:
        yield
    finally:
        _CURRENT.reset(token)
        if entry is not None:
            with _ENTERED_LOCK:
                _ENTERED.remove(entry)


def current_principal() -> Principal | None:
    principal = _CURRENT.get()
    thread = threading.current_thread()
    if principal is None and thread is not threading.main_thread():
        scheduler = interleave.active()
        if scheduler is not None and scheduler.manages(thread):
            return None  # a scheduled unit's context is its own: None is the emulator
        owner = scheduler.holder_thread() if scheduler is not None else None
        with _ENTERED_LOCK:
            entered = [p for p, t in _ENTERED if owner is None or t is owner]
            return entered[-1] if entered else None
    return principal


Observer = Callable[[str, str, dict[str, Any], dict[str, Any]], None]
CallDone = Callable[[Any, BaseException | None], None]
Watcher = Callable[[str, str, dict[str, Any], str], CallDone]
"""Called before a checked call (service, operation, params, region); what it returns is
called when the call ends, with the response or the error (a meter needs both)."""


class IamGuard:
    """Installs the botocore wrapper; keeps the denials and lets observers see each call."""

    def __init__(self, on_unmapped: Callable[[str], None]) -> None:
        self.denials: list[Denial] = []
        self.observers: list[Observer] = []
        self.watchers: list[Watcher] = []
        self._on_unmapped = on_unmapped
        self._original: Callable[..., Any] | None = None

    def patches(self) -> list[AbstractContextManager[Any]]:
        """moto's own S3 bucket-policy check, with conditions evaluated as AWS does.

        moto treats a condition it cannot see (e.g. `aws:SecureTransport` of a TLS-only
        policy) as a deny, which would refuse every call to a TLS-only bucket.
        """

        def get_permission(bucket: FakeBucket, action: str, resource: str) -> PermissionResult:
            if bucket.policy is None:
                return PermissionResult.NEUTRAL
            principal = current_principal() or Principal.role(f"arn:aws:iam::{ACCOUNT}:root")
            return resource_policy_result(bucket.policy.decode(), principal, action, resource)

        return [mock.patch.object(FakeBucket, "get_permission", get_permission)]

    def install(self) -> None:
        original = botocore.client.BaseClient._make_api_call
        guard = self

        def _make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            principal = current_principal()
            if principal is None:
                return original(client, operation, params)
            interleave.checkpoint()  # another unit may go first: where races are decided
            service = client.meta.service_model.service_name
            region = client.meta.region_name
            guard.authorize(principal, service, operation, params, region)
            watching = [watch(service, operation, params, region) for watch in guard.watchers]
            try:
                response = original(client, operation, params)
            except BaseException as error:
                for done in watching:
                    done(None, error)
                raise
            for done in watching:
                done(response, None)
            for observe in guard.observers:
                observe(service, operation, params, response)
            return response

        self._original = original
        botocore.client.BaseClient._make_api_call = _make_api_call

    def uninstall(self) -> None:
        if self._original is not None:
            botocore.client.BaseClient._make_api_call = self._original
            self._original = None

    def authorize(
        self,
        principal: Principal,
        service: str,
        operation: str,
        params: dict[str, Any],
        region: str,
    ) -> None:
        """Raise the AWS-shaped AccessDenied ClientError unless every need is allowed."""
        try:
            needs = needs_for(service, operation, params, region)
        except UnmappedOperationError as exc:
            self._on_unmapped(str(exc))
            raise
        if (service, operation) in _SENDS_ENCRYPTED:  # a customer key: its actions too
            needs = [*needs, *encrypted_target_needs(needs[0].resource, region)]
        for need in needs:
            decision = self.decide(principal, need)
            if decision is not Decision.ALLOW:
                self.denials.append(Denial(principal.arn, need.action, need.resource))
                raise _access_denied(service, operation, principal, need, decision)

    def decide(self, principal: Principal, need: Need) -> Decision:
        if need.action.startswith("kms:") and ":key/" in need.resource:
            return key_use_decision(principal, need, identity_policies(principal))
        return decide(
            need.action,
            need.resource,
            principal=principal,
            identity_policies=identity_policies(principal),
            resource_policy=resource_policy(need.resource),
            request_context=need.context,
        )


def identity_policies(principal: Principal) -> list[str]:
    """Inline and attached managed policy documents of the principal's role."""
    if principal.service is not None:
        return []
    backend = iam_backends[ACCOUNT]["global"]
    try:
        role = backend.get_role_by_arn(principal.arn)
    except NotFoundException:  # a role that does not exist has no permissions
        return []
    documents = [_as_text(doc) for doc in role.policies.values()]
    for policy in role.managed_policies.values():
        default = next(v for v in policy.versions if v.is_default)
        documents.append(_as_text(default.document))
    return documents


def _as_text(document: Any) -> str:
    return document if isinstance(document, str) else json.dumps(document)


def _access_denied(
    service: str, operation: str, principal: Principal, need: Need, decision: Decision
) -> ClientError:
    code = _DENIED_CODES.get(service, "AccessDeniedException")
    who = principal.arn
    if principal.service is None:
        role = principal.arn.split("/")[-1]
        who = f"arn:aws:sts::{principal.account}:assumed-role/{role}/emulator"
    why = (
        "with an explicit deny in a policy"
        if decision is Decision.EXPLICIT_DENY
        else f"because no identity-based policy allows the {need.action} action"
    )
    message = (
        f"User: {who} is not authorized to perform: {need.action} "
        f"on resource: {need.resource} {why}"
    )
    status = 403
    error = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(error, operation)
