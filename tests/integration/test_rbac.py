"""deploy/'s RBAC is enough, and no more: a second sncguard runs as the sncguard ServiceAccount and enforces.

The module applies `kubectl kustomize deploy/` minus the Deployment and the CRDs (the namespace, the
ServiceAccount, the ClusterRole and its binding), writes a kubeconfig holding a token of that
ServiceAccount, and starts `sncguard run` with it, beside the session's admin operator if that
one runs too (both then write the same statuses, which is harmless). Each guardrail is then
enforced under that identity; its log and its own request metrics must show no 401 or 403.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, create_namespace, delete_namespace, namespace_name
from .helpers import reference, tenant_namespaces, wait_for
from .operator_process import OperatorProcess, running

SYSTEM_NAMESPACE = "sncguard-system"
ACCOUNT = f"system:serviceaccount:{SYSTEM_NAMESPACE}:sncguard"
VELERO_CRDS = reference.velero_crds()
MANAGED = "app.kubernetes.io/managed-by=sncguard"
FORBIDDEN = re.compile(r"\b40[13]\b|forbidden|unauthorized", re.IGNORECASE)
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")


def _after_timestamp(line: str) -> str:
    return TIMESTAMP.sub("", line, count=1)


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def deploy_rbac(cluster, crds, tmp_path_factory) -> Iterator[Path]:
    """deploy/ without the Deployment applied; a kubeconfig with a token of the sncguard ServiceAccount."""
    built = cluster.kubectl("kustomize", str(REPO / "deploy")).stdout
    # The CRDs are the session's (fixture `crds`): deleting them here would end every policy.
    docs = [d for d in yaml.safe_load_all(built)
            if d and d["kind"] not in ("Deployment", "CustomResourceDefinition")]
    assert {d["kind"] for d in docs} >= {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"}
    manifest = yaml.safe_dump_all(docs, sort_keys=False)
    cluster.kubectl("apply", "--server-side", "-f", "-", input=manifest)
    token = wait_for(lambda: cluster.kubectl("create", "token", "sncguard", "-n", SYSTEM_NAMESPACE,
                                             "--duration=1h").stdout.strip(),
                     timeout=30, message="a token for the sncguard ServiceAccount")

    admin = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    server = admin["clusters"][0]["cluster"]
    ca = server.get("certificate-authority-data") or base64.b64encode(
        Path(server["certificate-authority"]).read_bytes()).decode()
    kubeconfig = tmp_path_factory.mktemp("rbac") / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "test", "cluster": {"server": server["server"], "certificate-authority-data": ca}}],
        "users": [{"name": "sncguard", "user": {"token": token}}],
        "contexts": [{"name": "sncguard", "context": {"cluster": "test", "user": "sncguard"}}],
        "current-context": "sncguard",
    }))
    kubeconfig.chmod(0o600)
    whoami = cluster.kubectl("--kubeconfig", str(kubeconfig), "auth", "whoami", "-o", "json")
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == ACCOUNT
    try:
        yield kubeconfig
    finally:
        cluster.kubectl("delete", "--ignore-not-found", "--wait=false", "-f", "-", input=manifest, check=False)


class RbacOperator(OperatorProcess):
    """The operator under the ServiceAccount's kubeconfig (its own liveness and metrics ports)."""

    def __init__(self, kubeconfig: Path, log_path: Path) -> None:
        # Its Lease in its own namespace, as deploy/ grants it (the session's operator holds one in default).
        super().__init__({"KUBECONFIG": str(kubeconfig)}, log_path, "--leader-election-namespace", SYSTEM_NAMESPACE)
        assert "--metrics-address" in self.args, "OperatorProcess gives each operator its own metrics port"

    def metrics_text(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            return response.read().decode()

    def sample(self, metric: str, /, **labels: str) -> float | None:
        """The value of one series, or None when the operator does not export it."""
        for line in self.metrics_text().splitlines():
            if not line.startswith(metric + "{"):
                continue
            found = dict(re.findall(r'(\w+)="([^"]*)"', line[: line.rindex("}") + 1]))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        return None

    def requests(self) -> dict[tuple[str, str], float]:
        out = {}
        for line in self.metrics_text().splitlines():
            if line.startswith("sncguard_api_requests_total{"):
                labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
                out[(labels["verb"], labels["outcome"])] = float(line.rsplit(" ", 1)[1])
        return out

    def assert_never_refused(self) -> None:
        """No request refused for want of a permission: the log has no 401/403, the metrics no 401.

        A namespace being deleted refuses new objects with a 403 too ("because it is being
        terminated"): that is the tests' namespaces going away under the operator, not RBAC.
        """
        # The time stamp ("03:12:35,403") is left out of the search: its milliseconds can read 401 or 403.
        refused = [line for line in self.log_text().splitlines()
                   if FORBIDDEN.search(_after_timestamp(line)) and "being terminated" not in line]
        assert not refused, "the operator was refused under its ServiceAccount:\n" + "\n".join(refused[:20])
        unauthorized = {key: n for key, n in self.requests().items() if key[1] == "401"}
        assert not unauthorized, f"requests refused for their credentials: {unauthorized}"
        assert self.alive(), f"the operator died:\n{self.log_tail()}"


@pytest.fixture(scope="module")
def rbac_operator(deploy_rbac, tmp_path_factory) -> Iterator[RbacOperator]:
    with running(RbacOperator(deploy_rbac, tmp_path_factory.mktemp("rbac-operator") / "operator.log")) as process:
        yield process


@pytest.fixture
def operator_as_sa(rbac_operator) -> Iterator[RbacOperator]:
    yield rbac_operator
    rbac_operator.assert_never_refused()


# --------------------------------------------------------------------------- what the account may do


def allowed(cluster, verb: str, group: str, resource: str, *, subresource: str = "", namespace: str = "",
            user: str = ACCOUNT) -> bool:
    """A SubjectAccessReview (the ServiceAccount's by default): exact, whether or not the API is installed."""
    attributes = {"verb": verb, "group": group, "resource": resource}
    if subresource:
        attributes["subresource"] = subresource
    if namespace:
        attributes["namespace"] = namespace
    review = cluster.api().must("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": user, "resourceAttributes": attributes,
                 "groups": (["system:serviceaccounts", f"system:serviceaccounts:{SYSTEM_NAMESPACE}"]
                            if user == ACCOUNT else []) + ["system:authenticated"]}})
    return review["status"].get("allowed") is True


def can_i(cluster, verb: str, resource: str, namespace: str = "") -> bool:
    """`kubectl auth can-i ... --as=<the ServiceAccount>`, as an administrator would check it."""
    args = ["auth", "can-i", verb, resource, f"--as={ACCOUNT}"]
    args += ["-n", namespace] if namespace else ["--all-namespaces"]
    res = cluster.kubectl(*args, check=False)
    assert res.stdout.strip() in ("yes", "no"), f"kubectl {' '.join(args)}: {res.stdout}{res.stderr}"
    return res.stdout.strip() == "yes"


def test_the_account_may_do_everything_its_cluster_role_lists(cluster, deploy_rbac):
    built = cluster.kubectl("kustomize", str(REPO / "deploy")).stdout
    role = next(d for d in yaml.safe_load_all(built)
                if d and d["kind"] == "ClusterRole" and d["metadata"]["name"] == "sncguard")
    missing = []
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                plural, _, sub = resource.partition("/")
                for verb in rule["verbs"]:
                    for namespace in ("", "kube-system"):
                        if not allowed(cluster, verb, group, plural, subresource=sub, namespace=namespace):
                            missing.append(f"{verb} {resource}.{group or 'core'} in {namespace or 'all'}")
    assert not missing, f"the ServiceAccount lacks: {missing}"


def test_kubectl_auth_can_i_says_no_to_secrets_deployments_and_pods(cluster, deploy_rbac):
    assert can_i(cluster, "list", "pods") and can_i(cluster, "patch", "deployments.apps")
    for verb, resource in (("get", "secrets"), ("create", "deployments.apps"), ("delete", "pods")):
        assert not can_i(cluster, verb, resource), f"{verb} {resource}"
        assert not can_i(cluster, verb, resource, namespace=SYSTEM_NAMESPACE), f"{verb} {resource} in its own namespace"


@pytest.mark.parametrize(("verb", "group", "resource", "subresource"), [
    ("get", "", "secrets", ""),
    ("list", "", "secrets", ""),
    ("watch", "", "secrets", ""),
    ("get", "", "configmaps", ""),
    ("create", "apps", "deployments", ""),
    ("update", "apps", "deployments", ""),
    ("delete", "apps", "deployments", ""),
    ("delete", "apps", "statefulsets", ""),
    ("create", "", "pods", ""),
    ("delete", "", "pods", ""),
    ("create", "", "pods", "exec"),
    ("create", "", "namespaces", ""),
    ("create", "", "serviceaccounts", "token"),
    ("patch", "sncguard.io", "zonespreads", ""),
    ("delete", "sncguard.io", "tenantpolicies", ""),
    ("update", "sncguard.io", "backuppolicies", "status"),
    ("create", "rbac.authorization.k8s.io", "clusterrolebindings", ""),
    ("create", "rbac.authorization.k8s.io", "clusterroles", ""),
    ("escalate", "rbac.authorization.k8s.io", "clusterroles", ""),
    ("bind", "rbac.authorization.k8s.io", "roles", ""),
    ("impersonate", "", "users", ""),
    ("delete", "apiextensions.k8s.io", "customresourcedefinitions", ""),
    ("create", "velero.io", "backups", ""),
])
def test_the_account_may_not(cluster, deploy_rbac, verb, group, resource, subresource):
    for namespace in ("", "kube-system", SYSTEM_NAMESPACE):
        assert not allowed(cluster, verb, group, resource, subresource=subresource, namespace=namespace), (
            f"{verb} {resource}.{group or 'core'} {subresource} in {namespace or 'all namespaces'}")


def test_whoever_views_a_namespace_may_read_its_policies(cluster, deploy_rbac, namespace):
    # deploy/ aggregates sncguard-view into the built-in view role (the controller-manager does it).
    cluster.kubectl("create", "rolebinding", "alice-view", "-n", namespace, "--clusterrole=view", "--user=alice")
    wait_for(lambda: allowed(cluster, "list", "sncguard.io", "zonespreads", namespace=namespace, user="alice"),
             timeout=30, message="view to include sncguard-view")
    assert allowed(cluster, "get", "sncguard.io", "backuppolicies", namespace=namespace, user="alice")
    assert not allowed(cluster, "patch", "sncguard.io", "zonespreads", namespace=namespace, user="alice")
    assert not allowed(cluster, "list", "sncguard.io", "zonespreads", namespace="default", user="alice")


# --------------------------------------------------------------------------- each guardrail under it


def test_a_zonespread_is_enforced_under_the_service_account(cluster, operator_as_sa, namespace):
    ns = namespace
    cluster.kubectl("apply", "-f", "-", input=f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: ledger, namespace: {ns}, labels: {{app: ledger}}}}
spec:
  replicas: 3
  selector: {{matchLabels: {{app: ledger}}}}
  template:
    metadata: {{labels: {{app: ledger}}}}
    spec: {{containers: [{{name: app, image: app:1}}]}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: ledger, namespace: {ns}}}
spec: {{minAvailable: 2, selector: {{matchLabels: {{app: ledger}}}}}}
---
apiVersion: sncguard.io/v1alpha1
kind: ZoneSpread
metadata: {{name: sla, namespace: {ns}}}
spec: {{mode: Enforce, minZones: 3}}
""")

    def constrained():
        deploy = cluster.kubectl_json("get", "deployment", "ledger", "-n", ns, "--show-managed-fields")
        constraints = deploy["spec"]["template"]["spec"].get("topologySpreadConstraints") or []
        applied = any(m["manager"] == f"sncguard/zonespread/{ns}/sla" and m["operation"] == "Apply"
                      for m in deploy["metadata"]["managedFields"])
        return applied and constraints

    (constraint,) = wait_for(constrained, timeout=60, message="sncguard's topology spread constraint")
    assert constraint["topologyKey"] == "topology.kubernetes.io/zone" and constraint["minDomains"] == 3

    def evaluated():
        st = cluster.kubectl_json("get", "zonespread", "sla", "-n", ns).get("status") or {}
        return st.get("observedGeneration") == 1 and st

    st = wait_for(evaluated, timeout=60, message="the ZoneSpread's status")
    assert not st.get("enforcementErrors"), st.get("enforcementErrors")
    # This operator judged the policy itself (its own gauge) and its writes went through.
    wait_for(lambda: operator_as_sa.sample("sncguard_policy_compliant", kind="ZoneSpread", namespace=ns,
                                           name="sla") is not None,
             timeout=60, message="the RBAC operator's verdict in its metrics")
    assert operator_as_sa.requests().get(("patch", "ok"), 0) >= 1
    operator_as_sa.assert_never_refused()


@pytest.fixture
def tenant(cluster) -> Iterator[tuple[str, str, str]]:
    with tenant_namespaces(cluster, "rbac") as names:
        yield names


def tenant_policy(name: str, *, flows: bool, grant: bool) -> str:
    expires = rfc3339(datetime.now(UTC) + timedelta(days=1))
    flow = """
    - name: web-to-api
      from: {zone: dmz}
      to: {zone: lan, podSelector: {matchLabels: {app: api}}}
      ports: [{protocol: TCP, port: 8443}]""" if flows else " []"
    grants = f"""
  accessGrants:
    - subject: {{kind: User, name: ops@provider.example}}
      clusterRole: view
      expires: "{expires}"
      reason: ticket 4711""" if grant else ""
    return f"""
apiVersion: sncguard.io/v1alpha1
kind: TenantPolicy
metadata: {{name: {name}}}
spec:
  mode: Enforce
  tenant: {name}
  namespaceSelector: {{matchLabels: {{sncguard.io/tenant: {name}}}}}
  zones:
    dmz: {{matchLabels: {{sncguard.io/zone: dmz}}}}
    lan: {{matchLabels: {{sncguard.io/zone: lan}}}}
  flows:{flow}
  authorizedSubjects: [{{kind: Group, name: {name}-admins}}]
  allowedRegions: [eu-fr-paris]{grants}
"""


def test_a_tenantpolicy_is_enforced_under_the_service_account(cluster, operator_as_sa, tenant):
    name, _dmz, lan = tenant

    def owned(kind: str) -> dict[str, dict]:
        return {i["metadata"]["name"]: i for i in cluster.kubectl_json("get", kind, "-n", lan, "-l", MANAGED)["items"]}

    cluster.kubectl("apply", "-f", "-", input=tenant_policy(name, flows=True, grant=True))
    # Network policies: created (server-side apply) ...
    wait_for(lambda: {"sncguard-default-deny", "sncguard-flow-web-to-api"} <= set(owned("networkpolicies")),
             timeout=60, message=lambda: f"the owned NetworkPolicies; status {tenant_status(cluster, name)}")
    # ... and the grant's RoleBinding to the `view` ClusterRole, which needs `bind` on clusterroles.
    binding = wait_for(lambda: next((b for b in owned("rolebindings").values()
                                     if b["subjects"][0]["name"] == "ops@provider.example"), None),
                       timeout=60, message=lambda: f"the grant's RoleBinding; status {tenant_status(cluster, name)}")
    assert binding["roleRef"]["name"] == "view"

    # The flow and the grant go: their objects are deleted.
    cluster.kubectl("apply", "-f", "-", input=tenant_policy(name, flows=False, grant=False))
    wait_for(lambda: "sncguard-flow-web-to-api" not in owned("networkpolicies"), timeout=60,
             message="the removed flow's NetworkPolicy to be deleted")
    wait_for(lambda: not any(b["subjects"][0]["name"] == "ops@provider.example"
                             for b in owned("rolebindings").values()),
             timeout=60, message="the removed grant's RoleBinding to be deleted")
    st = tenant_status(cluster, name)
    assert not st.get("enforcementErrors"), st.get("enforcementErrors")
    assert operator_as_sa.sample("sncguard_policy_compliant", kind="TenantPolicy", name=name) is not None
    operator_as_sa.assert_never_refused()


def tenant_status(cluster, name: str) -> dict:
    return cluster.kubectl_json("get", "tenantpolicy", name).get("status") or {}


@pytest.fixture
def velero_ns(cluster) -> Iterator[str]:
    cluster.kubectl("apply", "--server-side", "-f", str(VELERO_CRDS))
    cluster.kubectl("wait", "--for", "condition=established", "--timeout=60s", "-f", str(VELERO_CRDS))
    name = create_namespace(cluster, namespace_name("rbac-velero"))
    try:
        yield name
    finally:
        delete_namespace(cluster, name)


def test_a_backuppolicy_is_enforced_under_the_service_account(cluster, operator_as_sa, namespace, velero_ns):
    ns = namespace
    now = datetime.now(UTC)
    cluster.kubectl("apply", "-f", "-", input=f"""
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata:
  name: offsite
  namespace: {velero_ns}
  labels: {{topology.kubernetes.io/zone: zone-c, topology.kubernetes.io/region: eu-fr-paris}}
spec:
  provider: aws
  objectStorage: {{bucket: backups}}
  config: {{region: eu-fr-paris, serverSideEncryption: "aws:kms"}}
---
apiVersion: velero.io/v1
kind: Backup
metadata: {{name: b-latest, namespace: {velero_ns}}}
spec: {{includedNamespaces: [{ns}], storageLocation: offsite, ttl: 720h0m0s}}
""")
    done = {"status": {"phase": "Completed", "startTimestamp": rfc3339(now - timedelta(minutes=5, seconds=30)),
                       "completionTimestamp": rfc3339(now - timedelta(minutes=5))}}
    cluster.kubectl("patch", "backup", "b-latest", "-n", velero_ns, "--type=merge",
                    "-p", json.dumps(done))
    cluster.kubectl("apply", "-f", "-", input=f"""
apiVersion: sncguard.io/v1alpha1
kind: BackupPolicy
metadata: {{name: nightly, namespace: {ns}}}
spec: {{mode: Enforce, veleroNamespace: {velero_ns}, storageLocation: offsite, rpo: 26h,
        restoreTestInterval: 720h, schedule: '0 3 * * *', ttl: 240h}}
""")

    def owned_schedules() -> list[dict]:
        return cluster.kubectl_json("get", "schedules", "-n", velero_ns, "-l", MANAGED)["items"]

    wait_for(owned_schedules, timeout=60, message=lambda: f"the owned Schedule; {backup_status(cluster, ns)}")
    restore = wait_for(lambda: next(iter(cluster.kubectl_json("get", "restores", "-n", velero_ns,
                                                             "-l", "sncguard.io/drill=true")["items"]), None),
                       timeout=60, message="a restore drill")
    (scratch,) = restore["spec"]["namespaceMapping"].values()

    # Velero's part: the scratch namespace, the restore, Completed.
    cluster.kubectl("create", "namespace", scratch)
    finished = datetime.now(UTC)
    cluster.kubectl("patch", "restore", restore["metadata"]["name"], "-n", velero_ns,
                    "--type=merge", "-p", json.dumps({"status": {
                        "phase": "Completed", "startTimestamp": rfc3339(finished - timedelta(seconds=10)),
                        "completionTimestamp": rfc3339(finished)}}))
    # sncguard reports the drill (an Event), marks the Restore (a merge patch) and deletes the scratch namespace.
    wait_for(lambda: (s := backup_status(cluster, ns)).get("lastDrill", {}).get("phase") == "Completed" and s,
             timeout=60, message=lambda: f"the drill in status; {backup_status(cluster, ns)}")
    wait_for(lambda: cluster.kubectl("get", "namespace", scratch, check=False).returncode != 0
             or cluster.kubectl_json("get", "namespace", scratch)["status"].get("phase") == "Terminating",
             timeout=60, message="the scratch namespace to go")
    wait_for(lambda: (cluster.kubectl_json("get", "restore", restore["metadata"]["name"], "-n", velero_ns)
                      ["metadata"].get("annotations") or {}).get("sncguard.io/reported"),
             timeout=30, message="the drill marked reported")
    events = cluster.kubectl_json("get", "events", "-n", ns, "--field-selector", "reason=RestoreDrill")["items"]
    assert events, "the drill's Event"
    st = backup_status(cluster, ns)
    assert not st.get("enforcementErrors"), st.get("enforcementErrors")

    # Deleting the policy deletes the Schedule it owned.
    cluster.kubectl("delete", "backuppolicy", "nightly", "-n", ns)
    wait_for(lambda: not owned_schedules(), timeout=60, message="the owned Schedule to be deleted")
    operator_as_sa.assert_never_refused()


def backup_status(cluster, ns: str) -> dict:
    return cluster.kubectl_json("get", "backuppolicy", "nightly", "-n", ns).get("status") or {}
