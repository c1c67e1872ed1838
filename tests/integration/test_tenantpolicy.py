"""TenantPolicy end to end on the real cluster: two tenants, enforcement, exposures, grants, bindings."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta

import pytest

from .conftest import create_namespace, delete_namespace
from .helpers import wait_for


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Tenant:
    """A tenant of two namespaces (dmz and lan) and its TenantPolicy."""

    def __init__(self, cluster, name: str):
        self.cluster = cluster
        self.name = name
        self.dmz = f"{name}-dmz"
        self.lan = f"{name}-lan"

    def create(self) -> Tenant:
        for ns, zone in ((self.dmz, "dmz"), (self.lan, "lan")):
            create_namespace(self.cluster, ns)
            self.cluster.kubectl("label", "namespace", ns, f"sncguard.io/tenant={self.name}",
                                 f"sncguard.io/zone={zone}")
        return self

    def delete(self) -> None:
        self.cluster.kubectl("delete", "tenantpolicy", self.name, "--ignore-not-found", "--wait=false")
        for ns in (self.dmz, self.lan):
            delete_namespace(self.cluster, ns)

    def policy(self, mode: str = "Enforce", grants: str = "", flows: str | None = None) -> str:
        flows = flows if flows is not None else """
    - name: web-to-api
      from: {zone: dmz}
      to: {zone: lan, podSelector: {matchLabels: {app: api}}}
      ports: [{protocol: TCP, port: 8443}]"""
        return f"""
apiVersion: sncguard.io/v1alpha1
kind: TenantPolicy
metadata: {{name: {self.name}}}
spec:
  mode: {mode}
  tenant: {self.name}
  namespaceSelector: {{matchLabels: {{sncguard.io/tenant: {self.name}}}}}
  zones:
    dmz: {{matchLabels: {{sncguard.io/zone: dmz}}}}
    lan: {{matchLabels: {{sncguard.io/zone: lan}}}}
  flows:{flows}
  authorizedSubjects: [{{kind: Group, name: {self.name}-admins}}]
  allowedRegions: [eu-fr-paris]
{grants}"""

    def apply(self, **kwargs) -> None:
        self.cluster.kubectl("apply", "-f", "-", input=self.policy(**kwargs))

    def status(self) -> dict:
        return self.cluster.kubectl_json("get", "tenantpolicy", self.name).get("status") or {}

    def compliant(self) -> str:
        return next((c["status"] for c in self.status().get("conditions") or () if c["type"] == "Compliant"), "")

    def owned_policies(self, ns: str) -> dict[str, dict]:
        items = self.cluster.kubectl_json("get", "networkpolicies", "-n", ns,
                                          "-l", "app.kubernetes.io/managed-by=sncguard")["items"]
        return {i["metadata"]["name"]: i for i in items}


@pytest.fixture
def tenants(cluster, crds, live_operator):
    made: list[Tenant] = []

    def make(prefix: str) -> Tenant:
        tenant = Tenant(cluster, f"{prefix}-{secrets.token_hex(2)}").create()
        made.append(tenant)
        return tenant

    yield make
    for tenant in made:
        tenant.delete()


def findings(tenant: Tenant, rule: str) -> list[dict]:
    return [f for f in tenant.status().get("findings") or () if f["rule"] == rule]


def test_enforce_generates_owned_policies_and_leaves_a_users_own_alone(cluster, tenants):
    acme, globex = tenants("acme"), tenants("globex")
    users_own = f"""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: users-own, namespace: {acme.lan}}}
spec:
  podSelector: {{matchLabels: {{app: db}}}}
  ingress: [{{from: [{{podSelector: {{matchLabels: {{app: api}}}}}}]}}]
"""
    cluster.kubectl("apply", "-f", "-", input=users_own)
    before = cluster.kubectl_json("get", "networkpolicy", "users-own", "-n", acme.lan)
    acme.apply()
    globex.apply(mode="Audit")

    wait_for(lambda: {"sncguard-default-deny", "sncguard-allow-dns", "sncguard-flow-web-to-api"}
             <= set(acme.owned_policies(acme.lan)), timeout=30, message="acme's owned policies in lan")
    lan = acme.owned_policies(acme.lan)
    dmz = wait_for(lambda: (p := acme.owned_policies(acme.dmz)) and "sncguard-flow-web-to-api-egress" in p and p,
                   timeout=30, message="acme's egress flow policy in dmz")
    deny = lan["sncguard-default-deny"]
    assert deny["spec"]["podSelector"] == {} and sorted(deny["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    assert not deny["spec"].get("ingress") and not deny["spec"].get("egress")
    flow = lan["sncguard-flow-web-to-api"]["spec"]
    assert flow["podSelector"] == {"matchLabels": {"app": "api"}}
    assert flow["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8443}]
    owner = deny["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"]) == ("TenantPolicy", acme.name)
    assert "sncguard-default-deny" in dmz

    after = cluster.kubectl_json("get", "networkpolicy", "users-own", "-n", acme.lan)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert "app.kubernetes.io/managed-by" not in (after["metadata"].get("labels") or {})
    # An Audit tenant gets nothing written into its namespaces.
    assert acme.status().get("namespaces") == 2
    wait_for(lambda: globex.status().get("namespaces") == 2, timeout=30, message="globex evaluated")
    assert globex.owned_policies(globex.lan) == {} and globex.owned_policies(globex.dmz) == {}
    assert findings(globex, "NET-001"), "globex has no default deny: NET-001"

    # The matrix changes: the removed flow's policies go, the user's stays.
    acme.apply(flows=" []")
    wait_for(lambda: "sncguard-flow-web-to-api" not in acme.owned_policies(acme.lan), timeout=30,
             message="the removed flow's policy to be deleted")
    assert "sncguard-default-deny" in acme.owned_policies(acme.lan)
    assert cluster.kubectl("get", "networkpolicy", "users-own", "-n", acme.lan, check=False).returncode == 0

    # A bad edit enforces nothing new and removes nothing already enforced.
    cluster.kubectl("patch", "tenantpolicy", acme.name, "--type=merge",
                    "-p", '{"spec": {"namespaceSelector": {"matchLabels": {"bad key!": "x"}}}}')
    wait_for(lambda: next((c for c in acme.status().get("conditions") or ()
                           if c["type"] == "Ready" and c["reason"] == "InvalidSpec"), None),
             timeout=30, message="InvalidSpec")
    assert "sncguard-default-deny" in acme.owned_policies(acme.lan)


def test_ssh_on_a_load_balancer_is_critical_until_removed(cluster, tenants):
    acme = tenants("exposed")
    acme.apply()
    wait_for(lambda: acme.compliant() == "True", timeout=40,
             message=lambda: f"a compliant tenant first; {acme.status()}")
    service = f"""
apiVersion: v1
kind: Service
metadata: {{name: bastion, namespace: {acme.dmz}}}
spec:
  type: LoadBalancer
  selector: {{app: bastion}}
  ports: [{{name: ssh, port: 22, targetPort: 22}}]
"""
    cluster.kubectl("apply", "-f", "-", input=service)
    wait_for(lambda: acme.compliant() == "False", timeout=30, message="non-compliance")
    (net003,) = [f for f in findings(acme, "NET-003") if f["result"] == "fail"]
    assert net003["severity"] == "critical"
    assert net003["resource"] == {"kind": "Service", "namespace": acme.dmz, "name": "bastion"}
    assert "22" in net003["message"]
    cluster.kubectl("delete", "service", "bastion", "-n", acme.dmz)
    wait_for(lambda: acme.compliant() == "True", timeout=30, message=lambda: f"compliance again; {acme.status()}")


def test_an_expired_grant_loses_its_binding(cluster, tenants):
    acme = tenants("granted")
    # Whole seconds: the spec holds RFC 3339 to the second, and the verdict follows the spec.
    expires = (datetime.now(UTC) + timedelta(seconds=25)).replace(microsecond=0)
    grant = f"""  accessGrants:
    - subject: {{kind: User, name: ops@provider.example}}
      clusterRole: view
      expires: "{rfc3339(expires)}"
      reason: ticket 4711
"""
    acme.apply(grants=grant)

    def grant_bindings() -> list[dict]:
        items = cluster.kubectl_json("get", "rolebindings", "-n", acme.lan,
                                     "-l", "app.kubernetes.io/managed-by=sncguard")["items"]
        return [i for i in items if i["subjects"][0]["name"] == "ops@provider.example"]

    (binding,) = wait_for(grant_bindings, timeout=30, message="the grant's RoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}
    st = acme.status()
    assert st["grants"][0]["state"] == "Active" and st["nextGrantExpiry"] == rfc3339(expires)
    # No change in the cluster: the operator's timer removes the binding when the grant expires.
    wait_for(lambda: not grant_bindings(), timeout=60, message="the expired grant's binding to go")
    assert datetime.now(UTC) >= expires
    wait_for(lambda: acme.status().get("grants", [{}])[0].get("state") == "Expired", timeout=30,
             message="the grant shown expired")


def test_a_binding_to_every_authenticated_user_raises_acc_002(cluster, tenants):
    acme = tenants("broad")
    acme.apply(mode="Audit")
    cluster.kubectl("create", "rolebinding", "everyone", "-n", acme.lan, "--clusterrole=view",
                    "--group=system:authenticated")
    st = wait_for(lambda: [f for f in findings(acme, "ACC-002") if f["result"] == "fail"], timeout=30,
                  message=lambda: f"ACC-002; {acme.status()}")
    assert st[0]["resource"]["name"] == "everyone" and "system:authenticated" in st[0]["message"]


def test_a_namespace_joining_the_tenant_is_covered_within_seconds(cluster, tenants):
    acme = tenants("growing")
    acme.apply()
    wait_for(lambda: acme.status().get("namespaces") == 2, timeout=30, message="two namespaces")
    extra = create_namespace(cluster, f"{acme.name}-new")
    try:
        cluster.kubectl("label", "namespace", extra, f"sncguard.io/tenant={acme.name}", "sncguard.io/zone=lan")
        wait_for(lambda: acme.status().get("namespaces") == 3, timeout=10, message="the new namespace counted")
        wait_for(lambda: "sncguard-default-deny" in acme.owned_policies(extra), timeout=10,
                 message="default deny in the new namespace")
    finally:
        delete_namespace(cluster, extra)


def test_two_enforcing_tenants_over_one_namespace_do_not_fight(cluster, tenants):
    first, second = tenants("aa"), tenants("zz")
    shared = create_namespace(cluster, f"{second.name}-shared")
    try:
        # The first tenant selects its lan and `shared` by another label: each policy selects `shared`.
        cluster.kubectl("label", "namespace", shared, f"sncguard.io/tenant={second.name}", "sncguard.io/zone=lan",
                        f"also={first.name}")
        first.apply()
        cluster.kubectl("label", "namespace", first.lan, f"also={first.name}")
        cluster.kubectl("patch", "tenantpolicy", first.name, "--type=merge", "-p",
                              f'{{"spec": {{"namespaceSelector": {{"matchLabels": {{"sncguard.io/tenant": null, '
                        f'"also": "{first.name}"}}}}}}}}')
        second.apply()
        wait_for(lambda: first.status().get("namespaces") == 2 and second.status().get("namespaces") == 3,
                 timeout=30, message=lambda: f"both scopes: {first.status()} {second.status()}")
        errors = wait_for(lambda: [e for e in second.status().get("enforcementErrors") or () if shared in e],
                          timeout=30, message=lambda: f"the yielded namespace reported: {second.status()}")
        assert first.name in errors[0]

        def deny_owner() -> tuple[str, str]:
            deny = first.owned_policies(shared).get("sncguard-default-deny") or {}
            meta = deny.get("metadata") or {}
            return ((meta.get("ownerReferences") or [{}])[0].get("name", ""), meta.get("resourceVersion", ""))

        owner, version = wait_for(lambda: (o := deny_owner())[0] == first.name and o, timeout=30,
                                  message=lambda: f"the first tenant's default deny in {shared}: {deny_owner()}")
        # Nobody rewrites it afterwards (two enforcers would, on every evaluation).
        time.sleep(3)
        assert deny_owner() == (owner, version)
        assert "sncguard-default-deny" in second.owned_policies(second.lan)
    finally:
        delete_namespace(cluster, shared)


def test_the_access_register_lists_who_reaches_the_tenant_and_announces_a_change(cluster, tenants):
    acme = tenants("register")
    # alice's binding first: the policy's first evaluation finds her, and a first evaluation announces nothing.
    cluster.kubectl("create", "rolebinding", "alice-edit", "-n", acme.lan, "--clusterrole=edit", "--user=alice")
    acme.apply(mode="Audit")

    def register() -> dict[str, dict]:
        return {e["name"]: e for e in acme.status().get("accessRegister") or ()}

    alice = wait_for(lambda: register().get("alice"), timeout=30,
                     message=lambda: f"alice in the access register; {acme.status()}")
    assert alice["kind"] == "User" and alice["authorised"] is False
    assert alice["access"] == [{"role": {"kind": "ClusterRole", "name": "edit"},
                                "binding": {"kind": "RoleBinding", "namespace": acme.lan, "name": "alice-edit"},
                                "namespaces": [acme.lan], "authorised": False}]
    digest = acme.status()["accessRegisterDigest"]
    assert len(digest) == 64 and acme.status()["accessRegisterTruncated"] == 0

    def changes() -> list[dict]:
        return [e for e in cluster.kubectl_json("get", "events", "-n", "default")["items"]
                if e["reason"] == "AccessRegisterChanged" and e["involvedObject"]["name"] == acme.name]

    cluster.kubectl("create", "rolebinding", "bob-view", "-n", acme.dmz, "--clusterrole=view", "--user=bob")
    wait_for(lambda: "bob" in register(), timeout=30, message=lambda: f"bob in the access register; {acme.status()}")
    assert acme.status()["accessRegisterDigest"] != digest
    (event,) = wait_for(lambda: [e for e in changes() if "bob" in e["message"]], timeout=15,
                        message=lambda: f"an AccessRegisterChanged event naming bob; {changes()}")
    assert event["message"] == "Access register changed: added: User bob (not authorised)"
    assert event["involvedObject"]["kind"] == "TenantPolicy"
    # Another evaluation that moves nothing in the register announces nothing.
    acme.apply(mode="Audit", flows=" []")
    wait_for(lambda: acme.status().get("observedGeneration") == 2, timeout=30, message="the edit evaluated")
    time.sleep(2)
    assert [e["message"] for e in changes() if "bob" in e["message"]] == [event["message"]], (
        "exactly one Event for that change")


def test_termination_names_what_remains_then_certifies_the_erasure(cluster, tenants):
    acme = tenants("ended")
    now = datetime.now(UTC).replace(microsecond=0)
    ended, notice = now - timedelta(days=60), now - timedelta(days=35)
    volume = f"{acme.name}-data"
    # A Retain volume bound to a claim of the tenant: it outlives the tenant's namespaces.
    cluster.kubectl("apply", "-f", "-", input=f"""
apiVersion: v1
kind: PersistentVolume
metadata: {{name: {volume}}}
spec:
  capacity: {{storage: 1Gi}}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {{path: /tmp/{volume}}}
  claimRef: {{kind: PersistentVolumeClaim, namespace: {acme.lan}, name: data}}
""")
    try:
        # The API server refuses a notice before the contract's end (CEL).
        bad = cluster.kubectl("apply", "-f", "-", check=False, input=acme.policy(mode="Audit", grants=f"""  termination:
    contractEndedAt: "{rfc3339(notice)}"
    erasureNoticeAt: "{rfc3339(ended)}"
"""))
        assert bad.returncode != 0 and "cannot be before" in bad.stderr
        acme.apply(mode="Audit", grants=f"""  termination:
    contractEndedAt: "{rfc3339(ended)}"
    erasureNoticeAt: "{rfc3339(notice)}"
""")

        def remaining() -> set[tuple[str, str]]:
            return {(f["resource"]["kind"], f["resource"]["name"])
                    for f in findings(acme, "TERM-002") if f["result"] == "fail"}

        wait_for(lambda: remaining() == {("Namespace", acme.dmz), ("Namespace", acme.lan),
                                         ("PersistentVolume", volume)},
                 timeout=30, message=lambda: f"TERM-002 naming the namespaces and the volume; {acme.status()}")
        st = acme.status()
        assert "erasureCertificate" not in st and sorted(st["erasureNamespaces"]) == sorted([acme.dmz, acme.lan])
        assert all(f["severity"] == "critical" for f in findings(acme, "TERM-002"))

        for ns in (acme.dmz, acme.lan):
            delete_namespace(cluster, ns)
        # The namespaces are gone, but the volume of one of them remains: remembered, still named.
        wait_for(lambda: remaining() == {("PersistentVolume", volume)}, timeout=90,
                 message=lambda: f"only the volume left; {acme.status()}")
        cluster.kubectl("delete", "persistentvolume", volume, "--wait=false")
        certificate = wait_for(lambda: acme.status().get("erasureCertificate"), timeout=60,
                               message=lambda: f"an erasure certificate; {acme.status()}")
        assert acme.compliant() == "True" and not remaining()
        assert certificate["inventory"] == {"Namespace": 0, "PersistentVolume": 0, "Backup": 0}
        assert certificate["deadline"] == rfc3339(notice + timedelta(days=30))
        assert sorted(certificate["namespaces"]) == sorted([acme.dmz, acme.lan])
        assert len(certificate["digest"]) == 64
        # Another evaluation keeps the certificate as it was.
        acme.apply(mode="Audit", flows=" []", grants=f"""  termination:
    contractEndedAt: "{rfc3339(ended)}"
    erasureNoticeAt: "{rfc3339(notice)}"
""")
        wait_for(lambda: acme.status().get("observedGeneration") == 2, timeout=30, message="the edit evaluated")
        assert acme.status()["erasureCertificate"] == certificate
    finally:
        cluster.kubectl("delete", "persistentvolume", volume, "--ignore-not-found", "--wait=false")
