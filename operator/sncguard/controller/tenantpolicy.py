"""TenantPolicy in the operator: select the tenant, judge network, access and location, enforce, report.

Enforce mode owns NetworkPolicies (default deny, DNS, one per flow) and the RoleBindings of
access grants in the tenant's namespaces. It only creates, updates and deletes objects that
carry its managed-by label and the policy's name; a user's object of the same name is left
alone and reported. A spec that cannot be used changes nothing already enforced.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ..api import Mode, TenantPolicySpec
from ..evaluation import TenantScope, evaluate_tenantpolicy, scope_of, yielded_namespaces
from ..netpol import foreign_pod_reach
from ..plans import tenantpolicy_access, tenantpolicy_network
from ..rules.access import register_change_message
from ..rules.network import namespace_selectors_read
from ..status import build_status
from ..view import ClusterView, Namespace
from .engine import Engine
from .kinds import BY_KIND, build_view, index_values, missing_permission, owned_objects
from .state import PolicyKey, PolicyRecord

log = logging.getLogger("sncguard.tenantpolicy")


def _other_specs(engine: Engine, key: PolicyKey) -> dict[str, TenantPolicySpec]:
    # An unusable policy claims no namespace; its own status says why.
    return {record.key.name: spec for record in engine.records("TenantPolicy")
            if record.key != key and (spec := engine.spec_of(record)) is not None}


class TenantPolicyReconciler:
    kind = "TenantPolicy"

    async def reconcile(self, engine: Engine, record: PolicyRecord) -> None:
        now = engine.clock()
        previous = engine.writer.previous_status(record)
        spec = await engine.parse_spec(record)
        if spec is None or await missing_permission(engine, record):
            return
        assert isinstance(spec, TenantPolicySpec)
        namespaces = {n.name: n for n in index_values(engine, BY_KIND["Namespace"], None)}
        others = _other_specs(engine, record.key)
        engine.tenant_selection.sync(namespaces, {name: engine.namespace_selector_of(name, s)
                                                  for name, s in {**others, record.key.name: spec}.items()})
        scope = scope_of(record.key.name, spec, namespaces, engine.tenant_selection)
        engine.tenant_policies_of_namespace.cover(record.key, scope.namespaces)
        view = self._view(engine, record.key, scope, namespaces)
        if spec.termination is not None:
            # What remains of an ended tenant includes the Velero Backups covering its namespaces,
            # which sit in Velero's namespace, wherever that is (TERM-002).
            view.backups = list(index_values(engine, BY_KIND["Backup"], None))
        outcome = evaluate_tenantpolicy(spec, record.key.name, scope, view, now, previous_status=previous)
        extra: dict[str, Any] = dict(outcome.status_fields)
        if spec.mode is Mode.ENFORCE:
            enforcing = {other: s for other, s in others.items() if s.mode is Mode.ENFORCE}
            yielded = yielded_namespaces(record.key.name, scope.namespaces, namespaces, enforcing)
            errors = [f"Namespace {namespace} is selected by TenantPolicy {winner} too, which enforces there "
                      f"(the first by name): nothing enforced there by this policy"
                      for namespace, winner in sorted(yielded.items())]
            errors += await self._enforce(engine, record, spec, scope, view, now, set(yielded))
            if errors:
                extra["enforcementErrors"] = errors[:20]
        if outcome.wake_at is not None:
            engine.queue.schedule_at(record.key, outcome.wake_at)
        status = build_status(generation=record.generation, findings=outcome.findings, extra=extra,
                              previous=previous, now=now, language=engine.language)
        # The access register (R9, R14): a change is an Event naming who was added and who removed.
        # None when the digest is unchanged, and when the previous status had no register at all (a first
        # evaluation, or a status written by a version without it): nothing to compare with, no Event.
        # Posted once the status holds the new register: a refused write posts nothing, and its retry
        # compares with the register still in the status.
        change = register_change_message(previous, status, engine.language)
        await engine.writer.write_status(record, status, outcome.findings)
        if change is not None:
            await engine.writer.post_event(record, "AccessRegisterChanged", change)

    @staticmethod
    def _view(engine: Engine, key: PolicyKey, scope: TenantScope, namespaces: Mapping[str, Namespace]) -> ClusterView:
        """The tenant's namespaces, and of the other tenants' only what the tenant's NetworkPolicies
        can name: the pods an ipBlock admits by their address (NET-004) and those of a namespace a
        namespaceSelector matches that the peer's podSelector selects (NET-004, NET-005), each with
        the rest of its namespace (its own policies decide what reaches it). The rules read no other
        pod, so the verdict is the one the whole cluster gives (as in the offline check), at a
        fraction of the cost: a thousand other tenants' namespaces are not copied for each one."""
        mine = set(scope.namespaces)
        foreign = {n: ns.labels for n in scope.other_tenant_namespaces if (ns := namespaces.get(n)) is not None}
        reach = foreign_pod_reach(index_values(engine, BY_KIND["NetworkPolicy"], scope.namespaces), foreign)
        named = engine.foreign_pods.named(reach, sorted(foreign),
                                          lambda namespace: index_values(engine, BY_KIND["Pod"], [namespace]))
        view = build_view(engine, [*scope.namespaces, *sorted({p.namespace for p in named})], ())
        view.pods = [*(p for p in view.pods if p.namespace in mine), *named]
        engine.remember_foreign_pods(key, reach, (p for p in view.pods if p.namespace not in mine))
        engine.tenant_namespace_selectors[key] = namespace_selectors_read(
            p for p in view.network_policies if p.namespace in mine)
        return view

    async def _enforce(self, engine: Engine, record: PolicyRecord, spec: TenantPolicySpec, scope: Any,
                       view: Any, now: Any, yielded: set[str]) -> list[str]:
        name, uid = record.key.name, record.uid
        errors: list[str] = []
        owned_by_kind: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
        desired_policies = [p for p in tenantpolicy_network.network_plan(name, uid, spec, scope.namespaces,
                                                                         scope.zone_of_namespace, view)
                            if p["metadata"]["namespace"] not in yielded]
        desired_bindings = [b for b in tenantpolicy_access.grant_bindings(name, uid, spec, scope.namespaces, now)
                            if b["metadata"]["namespace"] not in yielded]
        for kind, desired, projections in (
                ("NetworkPolicy", desired_policies, view.network_policies),
                ("RoleBinding", desired_bindings, [b for b in view.role_bindings if b.kind == "RoleBinding"])):
            owned = owned_by_kind[kind] = {(o["metadata"]["namespace"], o["metadata"]["name"]): o
                                           for o in owned_objects(engine, kind)}
            taken = {(p.namespace, p.name) for p in projections}
            for obj in desired:
                where = (obj["metadata"]["namespace"], obj["metadata"]["name"])
                existing = owned.get(where)
                if existing is None and where in taken:
                    errors.append(f"{kind} {where[0]}/{where[1]} exists and is not managed by sncguard: left alone")
                    continue
                if error := await engine.writer.apply_owned(obj, existing, owned=True):
                    errors.append(error)
        # What the plan no longer holds goes: a removed flow, an expired grant, a namespace that left.
        # Each delete names the uid sncguard saw: an object recreated meanwhile under the name (someone
        # else's, perhaps) is left alone by the API server.
        def seen_uid(kind: str, namespace: str, object_name: str) -> str | None:
            return ((owned_by_kind[kind].get((namespace, object_name)) or {}).get("metadata") or {}).get("uid")

        all_policies = [p for p in index_values(engine, BY_KIND["NetworkPolicy"], None)]
        for namespace, policy_name in tenantpolicy_network.stale_owned(all_policies, desired_policies, name,
                                                                        policy_uid=uid):
            seen = seen_uid("NetworkPolicy", namespace, policy_name)
            if error := await engine.writer.delete_owned("networking.k8s.io/v1", "NetworkPolicy", namespace,
                                                         policy_name, seen):
                errors.append(error)
        all_bindings = [b for b in index_values(engine, BY_KIND["RoleBinding"], None)]
        for namespace, binding in tenantpolicy_access.stale_grant_bindings(all_bindings, desired_bindings, name):
            if error := await engine.writer.delete_owned("rbac.authorization.k8s.io/v1", "RoleBinding", namespace,
                                                         binding, seen_uid("RoleBinding", namespace, binding)):
                errors.append(error)
        return errors

    async def deleted(self, engine: Engine, record: PolicyRecord) -> None:
        """Owned NetworkPolicies and RoleBindings carry an ownerReference: the garbage collector removes them."""
