"""The AccessRegisterChanged Event: the message naming who was added and who removed (a pure function),
and the reconciler posting it once per change of the register, never on a first evaluation."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime

from sncguard.api.tenantpolicy import TenantPolicySpec
from sncguard.controller.engine import Engine, policy_index_name
from sncguard.controller.kinds import BY_KIND
from sncguard.controller.kube import KubeClient
from sncguard.controller.metrics import Metrics
from sncguard.controller.state import PolicyKey, PolicyRecord
from sncguard.controller.tenantpolicy import TenantPolicyReconciler
from sncguard.rules.access import REGISTER_CAP, register_change_message, register_changes
from sncguard.view import Namespace, RoleBinding

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def entry(kind: str, name: str, namespace: str | None = None, *, authorised: bool = False,
          role: str = "edit") -> dict:
    out = {"kind": kind, "name": name, "authorised": authorised,
           "access": [{"role": {"kind": "ClusterRole", "name": role},
                       "binding": {"kind": "RoleBinding", "namespace": "shop", "name": f"{name}-b"},
                       "namespaces": ["shop"], "authorised": authorised}]}
    if namespace is not None:
        out["namespace"] = namespace
    return out


def status(*entries: dict, digest: str = "d", truncated: int = 0) -> dict:
    return {"accessRegister": list(entries), "accessRegisterTruncated": truncated, "accessRegisterDigest": digest}


ALICE, BOB = entry("User", "alice", authorised=True), entry("User", "bob")
CI = entry("ServiceAccount", "deployer", "ci")


# --------------------------------------------------------------------------------------------
# The message


def test_changes_are_added_removed_and_changed_subjects():
    alice_admin = entry("User", "alice", authorised=True, role="admin")
    added, removed, changed = register_changes([ALICE, CI], [alice_admin, BOB])
    assert (added, removed, changed) == ([BOB], [CI], [alice_admin])


def test_message_names_who_was_added_and_who_removed():
    message = register_change_message(status(ALICE, CI, digest="1"), status(ALICE, BOB, digest="2"))
    assert message == ("Access register changed: added: User bob (not authorised); "
                       "removed: ServiceAccount ci/deployer")


def test_message_in_french():
    message = register_change_message(status(ALICE, digest="1"), status(BOB, CI, digest="2"), "fr")
    assert message == ("Registre des accès modifié : ajouté(s) : l'utilisateur bob (non autorisé), "
                       "le compte de service ci/deployer (non autorisé) ; retiré(s) : l'utilisateur alice")


def test_a_changed_access_or_verdict_is_named_too():
    revoked = entry("User", "alice", authorised=False)
    assert register_change_message(status(ALICE, digest="1"), status(revoked, digest="2")) == (
        "Access register changed: changed: User alice (not authorised)")


def test_no_message_when_the_digest_did_not_change():
    assert register_change_message(status(ALICE, digest="1"), status(ALICE, BOB, digest="1")) is None


def test_no_message_without_a_previous_register():
    # A first evaluation, or a status written by a version without the register.
    assert register_change_message({}, status(ALICE, digest="1")) is None
    assert register_change_message({"conditions": []}, status(ALICE, digest="1")) is None


def test_many_names_are_summed_up():
    users = [entry("User", f"u{i:02}") for i in range(13)]
    message = register_change_message(status(digest="1"), status(*users, digest="2"))
    assert message is not None and "User u09 (not authorised), and 3 more" in message and "u10" not in message
    french = register_change_message(status(digest="1"), status(*users, digest="2"), "fr")
    assert french is not None and "et 3 autre(s)" in french


def test_a_truncated_register_says_so():
    message = register_change_message(status(ALICE, digest="1", truncated=2), status(ALICE, BOB, digest="2",
                                                                                     truncated=3))
    assert message is not None and "added: User bob" in message
    assert f"subjects beyond the first {REGISTER_CAP} are not named" in message
    # Only beyond the entries shown: the change is announced all the same.
    beyond = register_change_message(status(ALICE, digest="1", truncated=2), status(ALICE, digest="2", truncated=2))
    assert beyond == f"Access register changed: beyond the first {REGISTER_CAP} subjects shown"


# --------------------------------------------------------------------------------------------
# The reconciler


class RecordingClient(KubeClient):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, str]] = []
        self.status: dict = {}

    async def patch_status(self, api_version, kind, namespace, name, status_patch):
        merged = {**self.status, **status_patch}
        self.status = {k: v for k, v in merged.items() if v is not None}
        return {"status": copy.deepcopy(self.status)}

    async def post_event(self, api_version, kind, namespace, name, uid, reason, message, type_="Normal"):
        self.events.append((reason, message))
        return {}


def binding(name: str, user: str) -> RoleBinding:
    return RoleBinding.from_obj(kind="RoleBinding", obj={
        "metadata": {"name": name, "namespace": "shop"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}],
    })


def test_the_reconciler_posts_one_event_per_change_and_none_at_first():
    client = RecordingClient()
    engine = Engine(client, clock=lambda: NOW, compliance_events=False, metrics=Metrics(client))
    spec = TenantPolicySpec.model_validate({"tenant": "acme", "namespaceSelector": {"matchLabels": {"t": "acme"}},
                                            "authorizedSubjects": [{"kind": "User", "name": "alice"}]})
    key = PolicyKey("TenantPolicy", "", "acme")
    bindings: list[RoleBinding] = [binding("alice", "alice")]
    namespace = Namespace.from_obj({"metadata": {"name": "shop", "labels": {"t": "acme"}}})
    indexes = {BY_KIND["Namespace"].index_id: {"": [namespace]},
               BY_KIND["RoleBinding"].index_id: {"shop": bindings}}

    def record() -> PolicyRecord:
        return PolicyRecord(key, "uid-1", 1, spec.dump(), copy.deepcopy(client.status))

    def evaluate() -> None:
        indexes[policy_index_name("TenantPolicy")] = {"": [record()]}
        engine.attach(indexes, [TenantPolicyReconciler()])
        asyncio.run(TenantPolicyReconciler().reconcile(engine, record()))

    def gauge(authorised: str) -> float | None:
        return engine.metrics.registry.get_sample_value("sncguard_access_register_subjects",
                                                        {"name": "acme", "authorised": authorised})

    evaluate()
    assert [e["name"] for e in client.status["accessRegister"]] == ["alice"]
    assert client.events == [], "no event on the first evaluation"
    assert (gauge("true"), gauge("false")) == (1.0, 0.0)
    evaluate()
    assert client.events == [], "nothing changed"
    bindings.append(binding("bob", "bob"))
    evaluate()
    assert client.events == [("AccessRegisterChanged", "Access register changed: added: User bob (not authorised)")]
    assert (gauge("true"), gauge("false")) == (1.0, 1.0)
    evaluate()
    assert len(client.events) == 1, "one event per change, not per evaluation"
    bindings.remove(bindings[0])
    evaluate()
    assert client.events[-1] == ("AccessRegisterChanged", "Access register changed: removed: User alice")
    engine.metrics.forget(key)
    assert gauge("true") is None and gauge("false") is None
