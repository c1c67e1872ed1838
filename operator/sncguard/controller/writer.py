"""Everything sncguard writes to the API: policy statuses, Events, PolicyReports, and the objects it owns.

A status is patched only when it differs from the last one written; a change of the Compliant
condition is also an Event. Owned objects are server-side applied only when the cluster does not
already hold them as planned. A write the API server refuses during an evaluation is remembered
for that evaluation (`evaluating`): the engine evaluates the policy again later.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import API_VERSION, MANAGED_BY_LABEL, MANAGED_BY_VALUE
from ..defaults import apply_defaults
from ..findings import Finding
from ..status import differs, status_patch
from .kube import ApiError, KubeClient
from .state import PolicyKey, PolicyRecord

if TYPE_CHECKING:
    from .metrics import Metrics

log = logging.getLogger("sncguard.writer")

# Writes a policy's PolicyReports from an evaluation's findings (the wiring binds reports.publish).
ReportPublisher = Callable[[PolicyRecord, list[Finding]], Awaitable[None]]


@dataclass
class Evaluation:
    """The writes of one evaluation: whether the API server refused one (then it is retried)."""

    key: PolicyKey
    refused: bool = False


# The evaluation running in this task: the writes it makes are counted against it.
_evaluation: contextvars.ContextVar[Evaluation | None] = contextvars.ContextVar("evaluation", default=None)


def subset(desired: Any, actual: Any) -> bool:
    """Whether everything `desired` sets is in `actual` (the API server may add defaults)."""
    if isinstance(desired, Mapping):
        return isinstance(actual, Mapping) and all(subset(v, actual.get(k)) for k, v in desired.items())
    if isinstance(desired, list):
        return isinstance(actual, list) and len(desired) == len(actual) and all(
            subset(d, a) for d, a in zip(desired, actual, strict=True))
    return desired == actual


class Writer:
    def __init__(self, client: KubeClient, *, metrics: Metrics | None = None, compliance_events: bool = True) -> None:
        self.client = client
        self.metrics = metrics
        # An Event on each flip of the Compliant condition; off, each effective change is one write.
        self.compliance_events = compliance_events
        self.publish_reports: ReportPublisher | None = None
        # Called with a policy whose status patch found it gone (a 404): everything known of it goes.
        self.on_gone: Callable[[PolicyKey], None] = lambda key: None
        self._written: dict[PolicyKey, dict[str, Any]] = {}
        self._evaluated: dict[PolicyKey, tuple[str, int]] = {}
        self._applied: dict[tuple[str, str, str], str] = {}

    @contextlib.contextmanager
    def evaluating(self, key: PolicyKey) -> Iterator[Evaluation]:
        """The writes made within are `key`'s evaluation's: the Evaluation says whether one was refused."""
        evaluation = Evaluation(key)
        token = _evaluation.set(evaluation)
        try:
            yield evaluation
        finally:
            _evaluation.reset(token)

    def _refused(self) -> None:
        evaluation = _evaluation.get()
        if evaluation is not None:
            evaluation.refused = True

    # ---- what the writer remembers of each policy ----------------------------------------------

    def previous_status(self, record: PolicyRecord) -> Mapping[str, Any]:
        return self._written.get(record.key, record.status)

    def is_evaluated(self, record: PolicyRecord) -> bool:
        """Whether a status was decided for this object's generation (written, or found unchanged)."""
        return self._evaluated.get(record.key) == (record.uid, record.generation)

    def status_seen(self, record: PolicyRecord) -> None:
        """The policy's event carries the status the API holds. Different from the one written for the
        same generation: someone else changed it, or the event predates the write; the API is trusted again."""
        written = self._written.get(record.key)
        if written is not None and differs(written, record.status) and self.is_evaluated(record):
            self._written.pop(record.key, None)

    def forget(self, key: PolicyKey) -> None:
        self._written.pop(key, None)
        self._evaluated.pop(key, None)

    def object_changed(self, kind: str, namespace: str, name: str) -> None:
        """An object we may have applied changed: the next plan must compare again."""
        self._applied.pop((kind, namespace, name), None)

    # ---- statuses, reports and Events ----------------------------------------------------------

    async def write_status(self, record: PolicyRecord, status: dict[str, Any],
                           findings: list[Finding] | None = None) -> bool:
        """Patch the status if it differs from the last one; True when written.

        `findings` are those of an evaluation; None for a status that could not evaluate (an invalid
        spec, Velero missing), which keeps the last verdict in the metrics as it does in the status.

        A change of the Compliant condition is also an Event on the policy: people see it in
        `kubectl describe` without sncguard posting one per evaluation.
        """
        previous = self.previous_status(record)
        self._evaluated[record.key] = (record.uid, record.generation)
        if self.metrics is not None and findings is not None:
            # Without an evaluation the gauges stay: a bad edit must not resolve an alert that the
            # last verdict raised.
            self.metrics.observe(record, status, findings)
        if not differs(previous, status):
            await self._publish_reports(record, findings)
            return False
        try:
            response = await self.client.patch_status(API_VERSION, record.key.kind, record.key.namespace or None,
                                                      record.key.name, status_patch(previous, status))
        except ApiError as exc:
            if exc.status == 404:
                self.on_gone(record.key)
                return False
            raise
        if self.metrics is not None:
            self.metrics.written(record.key.kind)
        self._written[record.key] = response.get("status") or status
        # The status first: it is what a change waits to see (`kubectl get`, Argo CD); the reports
        # and the Event follow, a round trip each.
        await self._publish_reports(record, findings)
        if self.compliance_events:
            await self._announce_compliance(record, previous, status)
        return True

    async def _publish_reports(self, record: PolicyRecord, findings: list[Finding] | None) -> None:
        """The policy's PolicyReports, rewritten where a result moved; nothing without an evaluation's findings."""
        if findings is not None and self.publish_reports is not None:
            await self.publish_reports(record, findings)

    async def _announce_compliance(self, record: PolicyRecord, previous: Mapping[str, Any],
                                   status: Mapping[str, Any]) -> None:
        def compliant(st: Mapping[str, Any]) -> tuple[str, str]:
            c = next((c for c in st.get("conditions") or () if c.get("type") == "Compliant"), {})
            return c.get("status", ""), c.get("message", "")

        before, _ = compliant(previous)
        after, message = compliant(status)
        if after == before or after not in ("True", "False"):
            return
        if not before and after == "True":
            # A first verdict that finds nothing wrong is no news: at 4,200 new policies, one Event
            # each doubled the writes of the start-up. A first NonCompliant one is a Warning to see.
            return
        if after == "True":
            await self.post_event(record, "Compliant", message)
        else:
            await self.post_event(record, "NonCompliant", message, "Warning")

    async def post_event(self, record: PolicyRecord, reason: str, message: str, type_: str = "Normal") -> None:
        try:
            await self.client.post_event(API_VERSION, record.key.kind, record.key.namespace, record.key.name,
                                         record.uid, reason, message, type_)
        except ApiError as exc:
            # A namespace being deleted refuses new events; its policy is going too.
            level = logging.DEBUG if "being terminated" in exc.message else logging.WARNING
            log.log(level, "could not post event %s on %s: %s", reason, record.key.label(), exc)

    # ---- objects sncguard owns or sets fields of -----------------------------------------------

    async def apply_owned(self, desired: dict[str, Any], existing: Mapping[str, Any] | None,
                          *, owned: bool | None = None) -> str | None:
        """Server-side apply an object sncguard owns, unless the cluster already has it as desired.

        `existing` is the object as indexed (None when absent). An object of the same name that
        sncguard does not own is left alone: the error says so, for the status.
        """
        meta = desired["metadata"]
        target = (desired["kind"], meta.get("namespace", ""), meta["name"])
        if existing is not None:
            is_ours = owned if owned is not None else (
                (existing.get("metadata", {}).get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE)
            if not is_ours:
                return f"{desired['kind']} {target[1]}/{target[2]} exists and is not managed by sncguard: left alone"
            if holds_as_desired(desired, existing):
                return None
        fingerprint = json.dumps(desired, sort_keys=True)
        if self._applied.get(target) == fingerprint:
            return None
        try:
            # Server-side apply sets what sncguard says but leaves fields that another manager added
            # (`ingress: [{}]` patched into a default deny): those are removed first, by a merge patch.
            extra = {} if existing is None else surplus(apply_defaults(desired["kind"], desired), existing)
            if extra:
                await self.client.merge_patch(desired["apiVersion"], desired["kind"], meta.get("namespace"),
                                              meta["name"], extra)
            await self.client.apply(desired, force=True)
        except ApiError as exc:
            self._refused()
            return f"{desired['kind']} {target[1]}/{target[2]}: {exc.message or exc}"
        self._applied[target] = fingerprint
        log.info("applied %s %s/%s", *target)
        return None

    async def apply_fields(self, config: dict[str, Any], manager: str) -> str | None:
        """Server-side apply of a few fields of a user's object under the policy's own field `manager`,
        never forced: a conflict is the user's (or another policy's) field to keep, and is reported."""
        meta = config["metadata"]
        target = (config["kind"], meta.get("namespace", ""), meta["name"])
        fingerprint = json.dumps([manager, config], sort_keys=True)
        if self._applied.get(target) == fingerprint:
            return None
        try:
            await self.client.apply(config, force=False, manager=manager)
        except ApiError as exc:
            if exc.status != 409:  # a conflict is the user's field: reported, not retried
                self._refused()
            return f"{config['kind']} {target[2]}: {exc.message or exc}"
        self._applied[target] = fingerprint
        log.info("applied sncguard's fields to %s %s/%s", *target)
        return None

    async def annotate(self, api_version: str, kind: str, namespace: str | None, name: str,
                       annotations: Mapping[str, str]) -> str | None:
        """Merge-patch annotations onto an object sncguard owns (a partial server-side apply would drop
        the fields it applied before); None, or what the API server said. Best effort: not retried."""
        try:
            await self.client.merge_patch(api_version, kind, namespace, name,
                                          {"metadata": {"annotations": dict(annotations)}})
        except ApiError as exc:
            return str(exc)
        return None

    async def delete_owned(self, api_version: str, kind: str, namespace: str | None, name: str,
                           uid: str | None = None) -> str | None:
        try:
            await self.client.delete(api_version, kind, namespace, name, uid)
        except ApiError as exc:
            if exc.status != 409:  # the uid precondition failed: the object is someone else's now
                self._refused()
            return f"deleting {kind} {namespace}/{name}: {exc.message or exc}"
        self._applied.pop((kind, namespace or "", name), None)
        log.info("deleted %s %s/%s", kind, namespace or "", name)
        return None


def surplus(desired: Mapping[str, Any], existing: Mapping[str, Any]) -> dict[str, Any]:
    """A merge patch that removes what `existing` holds beyond `desired`, in the content an owned object
    has (metadata, status and lists aside: lists are replaced whole by the apply that follows)."""

    def walk(want: Mapping[str, Any], have: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in have.items():
            if key not in want:
                out[key] = None
            elif isinstance(value, Mapping) and isinstance(want[key], Mapping) and (inner := walk(want[key], value)):
                out[key] = inner
        return out

    content = {k: v for k, v in desired.items() if k not in ("apiVersion", "kind", "metadata", "status")}
    return walk(content, {k: v for k, v in existing.items() if k in content or k not in (
        "apiVersion", "kind", "metadata", "status")})


def holds_as_desired(desired: Mapping[str, Any], existing: Mapping[str, Any]) -> bool:
    """Whether the cluster's copy of an owned object is exactly what the plan says.

    The content (spec, roleRef, subjects...) must be equal once the API server's defaults are applied
    to the plan: an owned object someone widened (`ingress: [{}]` added to a default deny) is put back,
    not accepted because it still contains what sncguard asked for. Metadata only has to contain
    sncguard's labels, annotations and owner: others may add theirs.
    """
    defaulted = apply_defaults(desired["kind"], desired)
    for key, value in defaulted.items():
        if key in ("apiVersion", "kind", "status"):
            continue
        if key == "metadata":
            if not subset(value, existing.get("metadata")):
                return False
        elif existing.get(key) != value:
            return False
    return True
