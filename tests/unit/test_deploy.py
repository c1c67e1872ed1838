"""The deployment artefacts build, and say what the code needs: deploy/, argocd/, the Containerfile.

Built with the cluster's own kubectl (`kubectl kustomize`), the pinned one hack/cluster/build.sh
compiles into its cache. A unit test does not compile: without that kubectl it fails and says
to run `make binaries`.

deploy/ passes its own checks: `sncguard check` (the built-in baseline), kube-linter, and for the
monitoring, dashboard-linter's rules and `promtool check rules` / `promtool test rules`. The
linters come from hack/tools.sh (`make binaries`), promtool from Debian's `prometheus` package.
A linter that was never built fails its test with the command to build it; one the Go module
proxy refused (hack/tools.sh then leaves `<tool>.unavailable` beside the binary) skips, saying so.

The ClusterRole is checked against the code both ways: every kind the operator watches
(controller/kinds.py) is readable, every kind it writes (controller/kube.py) writable, and no
verb is granted that the table below does not list, with the reason in deploy/base/clusterrole.yaml.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from sncguard import crdgen
from sncguard.cli import build_parser
from sncguard.controller.kinds import WATCHED
from sncguard.controller.kube import PLURALS, KubeClient
from sncguard.controller.metrics import Metrics

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
ARGOCD = REPO / "argocd"
BUILD_SH = REPO / "hack" / "cluster" / "build.sh"
TOOLS_SH = REPO / "hack" / "tools.sh"
DASHBOARD = DEPLOY / "monitoring" / "sncguard-dashboard.json"
CONSOLE_DASHBOARD = DEPLOY / "openshift" / "sncguard-console-dashboard.json"

READ = frozenset({"get", "list", "watch"})
OWNED = READ | {"create", "patch", "delete"}
POLICY_PLURALS = tuple(crdgen.crd(k)["spec"]["names"]["plural"] for k in crdgen.KINDS)

# Everything the ClusterRole may grant, per (API group, resource). A new permission is a change
# here and in deploy/base/clusterrole.yaml, with its reason.
EXPECTED_RBAC: dict[tuple[str, str], frozenset[str]] = {
    ("", "pods"): READ,
    ("", "nodes"): READ,
    ("", "services"): READ,
    ("", "persistentvolumes"): READ,
    ("", "persistentvolumeclaims"): READ,
    ("", "namespaces"): READ | {"delete"},  # the scratch namespaces of restore drills
    ("apps", "deployments"): READ | {"patch"},  # server-side apply of topology spread constraints
    ("apps", "statefulsets"): READ | {"patch"},
    ("policy", "poddisruptionbudgets"): READ,
    ("networking.k8s.io", "networkpolicies"): OWNED,
    ("networking.k8s.io", "ingresses"): READ,
    ("route.openshift.io", "routes"): READ,
    ("rbac.authorization.k8s.io", "rolebindings"): OWNED,
    ("rbac.authorization.k8s.io", "clusterrolebindings"): READ,
    ("rbac.authorization.k8s.io", "clusterroles"): frozenset({"bind"}),  # access grants bind ClusterRoles
    ("apiextensions.k8s.io", "customresourcedefinitions"): READ,
    ("velero.io", "backupstoragelocations"): READ,
    ("velero.io", "backups"): READ,
    ("velero.io", "schedules"): OWNED,
    ("velero.io", "restores"): OWNED,
    ("", "events"): frozenset({"create"}),
    ("events.k8s.io", "events"): frozenset({"create"}),
    ("wgpolicyk8s.io", "policyreports"): OWNED,
    ("wgpolicyk8s.io", "clusterpolicyreports"): OWNED,
    **{("sncguard.io", plural): READ for plural in POLICY_PLURALS},
    **{("sncguard.io", f"{plural}/status"): frozenset({"patch"}) for plural in POLICY_PLURALS},
}


# --------------------------------------------------------------------------- building


def cache_dir() -> Path:
    return Path(os.environ.get("SNCGUARD_CACHE", Path.home() / ".cache" / "sncguard"))


def pinned(script: Path, variable: str) -> str:
    """The version a build script pins, read the way it sets it: VAR="${VAR:-default}"."""
    default = re.search(rf'{variable}="\$\{{{variable}:-([^}}]+)\}}"', script.read_text())
    assert default, f"{script.relative_to(REPO)} no longer sets {variable} the way this test reads it"
    return os.environ.get(variable, default.group(1))


def kubectl_path() -> Path:
    """The kubectl build.sh caches, found the way build.sh computes its path, never built here."""
    path = cache_dir() / f"k8s-{pinned(BUILD_SH, 'K8S_VERSION')}" / "bin" / "kubectl"
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: run `make binaries` (hack/cluster/build.sh) once, then the tests again")
    return path


def tool_path(name: str, variable: str) -> Path:
    """A linter hack/tools.sh caches, never built here.

    Missing: the test fails and says how to build it. Refused by the Go module proxy (tools.sh wrote
    `<name>-<version>.unavailable`): the test skips with that reason, since no command of ours can
    bring it.
    """
    version = pinned(TOOLS_SH, variable)
    path = cache_dir() / "tools" / "bin" / f"{name}-{version}"
    if os.access(path, os.X_OK):
        return path
    refused = path.with_name(f"{path.name}.unavailable")
    if refused.is_file():
        reason = " ".join(refused.read_text().split())
        pytest.skip(f"{name} {version} cannot be installed on this machine ({reason}); "
                    f"`TOOLS_RETRY=1 bash hack/tools.sh` asks the proxy again")
    pytest.fail(f"{path} is missing: run `make binaries` (bash hack/tools.sh) once, then the tests again")


def promtool_path() -> str:
    """Debian's promtool (package `prometheus`, which .ci/run installs), or the one hack/tools.sh built."""
    found = shutil.which("promtool")
    if found:
        return found
    built = cache_dir() / "tools" / "bin" / f"promtool-{pinned(TOOLS_SH, 'PROMETHEUS_VERSION')}"
    if os.access(built, os.X_OK):
        return str(built)
    pytest.fail("promtool is missing: `apt-get install prometheus` (Debian's package provides it; .ci/run "
                "installs it), or `bash hack/tools.sh` to build it from the Go module proxy")


@cache
def build_text(folder: str) -> str:
    res = subprocess.run([str(kubectl_path()), "kustomize", str(REPO / folder)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, f"kubectl kustomize {folder} failed:\n{res.stderr}"
    return res.stdout


@cache
def build(folder: str) -> tuple[dict[str, Any], ...]:
    return tuple(doc for doc in yaml.safe_load_all(build_text(folder)) if doc)


def one(docs: tuple[dict[str, Any], ...], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def kinds(docs) -> set[str]:
    return {d["kind"] for d in docs}


@pytest.mark.parametrize("folder", ["deploy", "deploy/openshift", "deploy/monitoring"])
def test_kustomize_builds(folder):
    docs = build(folder)
    assert docs
    for doc in docs:
        assert doc.get("apiVersion") and doc.get("kind") and doc["metadata"].get("name"), doc


def test_deploy_holds_the_operator_and_nothing_that_needs_extra_crds():
    docs = build("deploy")
    assert kinds(docs) == {"CustomResourceDefinition", "Namespace", "ServiceAccount", "ClusterRole",
                           "ClusterRoleBinding", "Role", "RoleBinding", "Deployment", "PodDisruptionBudget",
                           "NetworkPolicy", "Service"}
    assert sorted(d["metadata"]["name"] for d in docs if d["kind"] == "CustomResourceDefinition") == [
        "backuppolicies.sncguard.io", "tenantpolicies.sncguard.io", "zonespreads.sncguard.io"]
    assert {d["metadata"]["name"] for d in docs if d["kind"] == "ClusterRole"} == {"sncguard", "sncguard-view"}
    assert one(docs, "Namespace")["metadata"]["name"] == "sncguard-system"
    for doc in docs:
        if doc["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"):
            assert doc["metadata"]["namespace"] == "sncguard-system", doc["metadata"]
    binding = one(docs, "ClusterRoleBinding", "sncguard")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "sncguard"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "sncguard", "namespace": "sncguard-system"}]
    one(docs, "ServiceAccount", "sncguard")


def test_nothing_of_ours_carries_sncguards_managed_by_label():
    # The operator treats objects labelled app.kubernetes.io/managed-by=sncguard as its own.
    for folder in ("deploy", "deploy/openshift"):
        for doc in build(folder):
            assert (doc["metadata"].get("labels") or {}).get("app.kubernetes.io/managed-by") != "sncguard", doc["kind"]


# --------------------------------------------------------------------------- deploy/ passes its own checks


@pytest.mark.parametrize("folder", ["deploy", "deploy/openshift"])
def test_sncguard_check_passes_on_what_deploy_installs(folder):
    """`kubectl kustomize deploy/ | sncguard check -`: no policy in the input, so the baseline judges it."""
    docs = build(folder)
    assert not {"ZoneSpread", "TenantPolicy", "BackupPolicy"} & kinds(docs), "the baseline is what is checked"
    sncguard = Path(sys.executable).with_name("sncguard")  # the virtualenv's, beside its python
    if not sncguard.is_file():
        sncguard = Path(shutil.which("sncguard") or "sncguard: run `make install`")
    res = subprocess.run([str(sncguard), "check", "-", "--output", "json"], input=build_text(folder),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"sncguard check fails on {folder}:\n{res.stdout}\n{res.stderr}"
    findings = json.loads(res.stdout)
    passed = {(f["rule"], f["resource"]["kind"], f["resource"]["name"]) for f in findings if f["result"] == "pass"}
    # The baseline did judge the operator: zone spread, its disruption budget, the forbidden ports.
    for rule in ("ZS-001", "ZS-002", "ZS-003", "ZS-005", "ZS-006"):
        assert (rule, "Deployment", "sncguard") in passed, rule
    assert ("NET-003", "Namespace", "sncguard-system") in passed


@pytest.mark.parametrize("folder", ["deploy", "deploy/openshift", "deploy/monitoring"])
def test_kube_linter_passes_with_its_default_checks(folder):
    kube_linter = tool_path("kube-linter", "KUBE_LINTER_VERSION")
    config = DEPLOY / ".kube-linter.yaml"
    res = subprocess.run([str(kube_linter), "lint", "--config", str(config), "-"], input=build_text(folder),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"kube-linter on {folder}:\n{res.stdout}\n{res.stderr}"


def test_kube_linter_excludes_no_default_check_without_a_reason():
    text = (DEPLOY / ".kube-linter.yaml").read_text()
    checks = yaml.safe_load(text)["checks"]
    assert set(checks) <= {"include", "exclude"}, "no addAllBuiltIn or doNotAutoAddDefaults: the defaults apply"
    assert checks["exclude"] == ["latest-tag"], "a new exclusion needs its reason in deploy/.kube-linter.yaml"
    assert "non-isolated-pod" in checks["include"]
    for check in checks["exclude"]:  # each preceded by its comment
        assert re.search(rf"#[^\n]*\n(?:\s*#[^\n]*\n)*\s*- {check}\n", text), check


def network_policy(folder: str = "deploy") -> dict[str, Any]:
    return one(build(folder), "NetworkPolicy", "sncguard")


def rule_ports(rule: dict[str, Any]) -> set[tuple[int, str]]:
    return {(p["port"], p["protocol"]) for p in rule["ports"]}


def test_the_operator_is_closed_by_default_but_for_the_api_server_dns_metrics_and_probes():
    policy = network_policy()
    assert policy["metadata"]["namespace"] == "sncguard-system"
    pod_labels = deployment()["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    ingress = {frozenset(rule_ports(r)): r.get("from") for r in policy["spec"]["ingress"]}
    assert ingress == {frozenset({(9090, "TCP")}): [{"namespaceSelector": {}}],  # Prometheus, from any pod
                       frozenset({(8080, "TCP")}): None}  # the kubelet's probes, from the node
    container = deployment()["spec"]["template"]["spec"]["containers"][0]
    assert {p["containerPort"] for p in container["ports"]} == {9090, 8080}
    api, dns = policy["spec"]["egress"]
    assert "to" not in api and rule_ports(api) == {(443, "TCP"), (6443, "TCP")}
    assert rule_ports(dns) == {(53, "UDP"), (53, "TCP")}
    assert dns["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                          "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}]


def test_on_openshift_dns_is_openshift_dns_on_its_pods_port():
    policy = network_policy("deploy/openshift")
    api, dns = policy["spec"]["egress"]
    assert api == network_policy()["spec"]["egress"][0]
    assert dns["to"][0]["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "openshift-dns"}}
    assert rule_ports(dns) == {(53, "UDP"), (53, "TCP"), (5353, "UDP"), (5353, "TCP")}
    assert policy["spec"]["ingress"] == network_policy()["spec"]["ingress"]


# --------------------------------------------------------------------------- RBAC


def granted(role: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        assert set(rule) <= {"apiGroups", "resources", "verbs"}, f"unexpected rule fields (resourceNames?): {rule}"
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                out.setdefault((group, resource), set()).update(rule["verbs"])
    return out


def cluster_role() -> dict[str, Any]:
    return one(build("deploy"), "ClusterRole", "sncguard")


def test_cluster_role_has_no_wildcard_no_secret_no_non_resource_url():
    role = cluster_role()
    assert "aggregationRule" not in role
    for rule in role["rules"]:
        assert "nonResourceURLs" not in rule, rule
        for key in ("apiGroups", "resources", "verbs", "resourceNames"):
            assert not any("*" in value for value in rule.get(key, ())), f"wildcard in {rule}"
        assert not {"secrets", "configmaps", "serviceaccounts", "serviceaccounts/token"} & set(rule["resources"]), rule
        assert not {"escalate", "impersonate", "update", "deletecollection"} & set(rule["verbs"]), rule


def test_cluster_role_grants_exactly_the_listed_verbs():
    assert granted(cluster_role()) == {key: set(verbs) for key, verbs in EXPECTED_RBAC.items()}


@pytest.mark.parametrize("watched", WATCHED, ids=lambda w: f"{w.plural}.{w.group or 'core'}")
def test_every_watched_kind_is_readable(watched):
    grants = granted(cluster_role())
    assert grants.get((watched.group, watched.plural), set()) >= READ, (
        f"kinds.py watches {watched.group or 'core'}/{watched.plural}: deploy/base/clusterrole.yaml must grant "
        f"get, list, watch")


def kopf_resources() -> set[tuple[str, str]]:
    """(group, plural) of every resource a kopf handler of the operator is registered for."""
    from sncguard.controller import handlers
    from sncguard.controller.wiring import Settings, wire

    registry = handlers.register(wire(Settings()))
    try:
        handlers_ = [h for sub in (registry._indexing, registry._watching) for h in sub.get_all_handlers()]
        changing = list(registry._changing.get_all_handlers())
    except AttributeError as exc:  # kopf's registry is internal: say so rather than pass silently
        pytest.fail(f"kopf's registry changed shape ({exc}): update kopf_resources() in this test")
    # Change-detecting handlers (on.create/update/delete) make kopf patch its progress annotations
    # and finalizers onto the objects: that needs `patch` on them, which the ClusterRole does not give.
    assert not changing, f"change-detecting kopf handlers need more RBAC: {changing}"
    return {(h.selector.group or "", h.selector.plural or h.selector.any_name) for h in handlers_}


def test_every_resource_kopf_watches_is_readable():
    resources = kopf_resources()
    assert not {(w.group, w.plural) for w in WATCHED} & resources, "watched kinds are the informers'"
    grants = granted(cluster_role())
    unreadable = sorted(r for r in resources if not grants.get(r, set()) >= READ)
    assert not unreadable, f"handlers.py watches these, deploy/base/clusterrole.yaml does not let it: {unreadable}"


@pytest.mark.parametrize("plural", [*POLICY_PLURALS, "customresourcedefinitions"])
def test_the_policies_and_crds_are_readable(plural):
    group = "apiextensions.k8s.io" if plural == "customresourcedefinitions" else "sncguard.io"
    assert granted(cluster_role()).get((group, plural), set()) >= READ


@pytest.mark.parametrize("written", sorted(PLURALS), ids=lambda key: key[1])
def test_every_kind_the_client_writes_is_writable(written):
    api_version, kind = written
    group = api_version.rpartition("/")[0]
    plural = PLURALS[written]
    grants = granted(cluster_role())
    if group == "sncguard.io":
        assert grants.get((group, f"{plural}/status")) == {"patch"}, f"{kind} status is sncguard's to patch"
        assert not grants[(group, plural)] - READ, f"sncguard writes only the status of {kind}"
    else:
        assert grants.get((group, plural), set()) & {"create", "patch", "delete"}, f"kube.py writes {kind}"


def test_the_documented_narrowing_of_bind_still_applies(tmp_path):
    """docs/install.md shows a JSON patch by rule index; it must keep hitting the `bind` rule."""
    docs = (REPO / "docs" / "install.md").read_text()
    block = re.search(r"```yaml\n\s*# in your overlay's kustomization.yaml\n(.*?)```", docs, re.S)
    assert block, "docs/install.md lost its example of narrowing `bind`"
    overlay = yaml.safe_load(textwrap.dedent(block.group(1)))
    overlay["resources"] = [os.path.relpath(DEPLOY, tmp_path)]
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    res = subprocess.run([str(kubectl_path()), "kustomize", str(tmp_path)], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, f"the documented patch no longer applies:\n{res.stderr}"
    role = one(tuple(d for d in yaml.safe_load_all(res.stdout) if d), "ClusterRole", "sncguard")
    (bind,) = [r for r in role["rules"] if "bind" in r["verbs"]]
    assert bind["resourceNames"] == ["view", "edit"] and bind["resources"] == ["clusterroles"]


def test_people_who_view_a_namespace_may_read_its_policies_and_nothing_more():
    role = one(build("deploy"), "ClusterRole", "sncguard-view")
    labels = role["metadata"]["labels"]
    for level in ("view", "edit", "admin"):
        assert labels[f"rbac.authorization.k8s.io/aggregate-to-{level}"] == "true"
    assert granted(role) == {("sncguard.io", plural): set(READ) for plural in POLICY_PLURALS}
    openshift = one(build("deploy/openshift"), "ClusterRole", "sncguard-view")
    assert openshift["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-cluster-reader"] == "true"


# --------------------------------------------------------------------------- the Deployment


def deployment(folder: str = "deploy") -> dict[str, Any]:
    return one(build(folder), "Deployment", "sncguard")


@pytest.mark.parametrize("folder", ["deploy", "deploy/openshift"])
def test_deployment_is_restricted_v2_compatible(folder):
    spec = deployment(folder)["spec"]["template"]["spec"]
    pod_sc = spec.get("securityContext") or {}
    assert pod_sc.get("runAsNonRoot") is True
    assert pod_sc.get("seccompProfile") == {"type": "RuntimeDefault"}
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        assert not spec.get(key), key
    for volume in spec.get("volumes") or ():
        assert set(volume) - {"name"} <= {"emptyDir", "configMap", "secret", "projected", "downwardAPI",
                                          "persistentVolumeClaim", "ephemeral"}, volume
    for container in spec["containers"] + spec.get("initContainers", []):
        sc = container.get("securityContext") or {}
        assert sc.get("allowPrivilegeEscalation") is False
        assert sc.get("capabilities") == {"drop": ["ALL"]}
        assert sc.get("readOnlyRootFilesystem") is True
        assert not sc.get("privileged")
        assert sc.get("runAsNonRoot", True) is True
        assert sc.get("seccompProfile", {"type": "RuntimeDefault"}) == {"type": "RuntimeDefault"}
        assert not any(p.get("hostPort") for p in container.get("ports") or ())
    # No fixed identity anywhere: OpenShift assigns the UID from the namespace's range.
    text = json.dumps(build(folder))
    for key in ("runAsUser", "runAsGroup", "fsGroup", "supplementalGroups"):
        assert f'"{key}"' not in text, f"{key} in {folder}"


def test_deployment_runs_the_operator_as_the_cli_expects():
    dep = deployment()
    # Two replicas, one leader (the Lease), spread hard over zones, replaced one at a time.
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    spec = dep["spec"]["template"]["spec"]
    (spread,) = spec["topologySpreadConstraints"]
    assert (spread["topologyKey"], spread["whenUnsatisfiable"], spread["minDomains"]) == (
        "topology.kubernetes.io/zone", "DoNotSchedule", 2)
    assert spread["labelSelector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
    (apart,) = spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert apart["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert apart["podAffinityTerm"]["labelSelector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
    env = {e["name"]: e for e in spec["containers"][0]["env"]}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert spec["serviceAccountName"] == "sncguard"
    (container,) = spec["containers"]
    assert container["image"] == "sncguard:latest"
    assert container["args"] == ["run", "--liveness", "http://0.0.0.0:8080/healthz",
                                 "--metrics-address", "0.0.0.0:9090"]
    args = build_parser().parse_args(container["args"])  # flags the real CLI knows
    assert args.liveness == "http://0.0.0.0:8080/healthz" and args.metrics_address == "0.0.0.0:9090"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"healthz": 8080, "metrics": 9090}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    resources = container["resources"]
    assert set(resources["requests"]) == {"cpu", "memory"} and set(resources["limits"]) == {"cpu", "memory"}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts == {"/tmp": "tmp"}
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in spec["volumes"]
    env = {e["name"]: e.get("value") for e in container.get("env") or ()}
    assert env.get("HOME") == "/tmp"


def test_the_image_can_be_overridden_with_kustomize_images(tmp_path):
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({
        "resources": [os.path.relpath(DEPLOY, tmp_path)],  # kustomize refuses absolute paths
        "images": [{"name": "sncguard", "newName": "platform/sncguard", "newTag": "0.1.0"}],
    }))
    res = subprocess.run([str(kubectl_path()), "kustomize", str(tmp_path)], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    dep = one(tuple(d for d in yaml.safe_load_all(res.stdout) if d), "Deployment", "sncguard")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "platform/sncguard:0.1.0"


def test_the_metrics_service_selects_the_operator_pod():
    docs = build("deploy")
    service = one(docs, "Service", "sncguard-metrics")
    pod_labels = deployment()["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (port,) = service["spec"]["ports"]
    assert port["name"] == "metrics" and port["port"] == 9090 and port["targetPort"] == "metrics"


# --------------------------------------------------------------------------- monitoring and OpenShift


def exported_metric_names() -> set[str]:
    names = set()
    for family in Metrics(KubeClient()).registry.collect():
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}.get(family.type, ("",))
        names.update(family.name + suffix for suffix in suffixes)
    return names


def metric_names_in(text: str) -> set[str]:
    return set(re.findall(r"\bsncguard_[a-z_]+\b", text))


def test_servicemonitor_scrapes_the_metrics_service():
    docs = build("deploy/monitoring")
    monitor = one(docs, "ServiceMonitor", "sncguard")
    service = one(build("deploy"), "Service", "sncguard-metrics")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["sncguard-system"]}


def prometheus_rule() -> dict[str, Any]:
    return one(build("deploy/monitoring"), "PrometheusRule", "sncguard")


def test_alerts_cover_findings_sla_and_the_operator_and_use_real_metrics():
    rule = prometheus_rule()
    alerts = {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}
    assert alerts["SncguardCriticalFinding"]["expr"] == 'sncguard_findings{severity="critical"} > 0'
    assert alerts["SncguardCriticalFinding"]["labels"]["severity"] == "critical"
    assert alerts["SncguardZoneSpreadNotSLAEligible"]["expr"] == "sncguard_zonespread_sla_eligible == 0"
    assert alerts["SncguardZoneSpreadNotSLAEligible"]["for"] == "15m"
    assert alerts["SncguardOperatorDown"]["expr"].startswith("absent(up{")
    exported = exported_metric_names()
    for name, alert in alerts.items():
        assert metric_names_in(alert["expr"]) <= exported, f"{name} uses a metric sncguard does not export"
        assert alert["annotations"]["summary"]
        if name != "SncguardZoneSpreadNotSLAEligible":  # a ZoneSpread always has a namespace, a TenantPolicy none
            for text in alert["annotations"].values():
                assert "{{ $labels.exported_namespace }}/" not in text, f'{name} would read "TenantPolicy /acme"'


def test_alerts_pass_promtool_check_and_their_unit_tests(tmp_path):
    """promtool reads plain rule files: the PrometheusRule's groups go to the file the tests name."""
    promtool = promtool_path()
    tests = DEPLOY / "monitoring" / "prometheusrule.test.yaml"
    (rules_file,) = yaml.safe_load(tests.read_text())["rule_files"]
    (tmp_path / rules_file).write_text(yaml.safe_dump({"groups": prometheus_rule()["spec"]["groups"]}))
    shutil.copy(tests, tmp_path / tests.name)
    for command in (["check", "rules", rules_file], ["test", "rules", tests.name]):
        res = subprocess.run([promtool, *command], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, f"promtool {' '.join(command)}:\n{res.stdout}\n{res.stderr}"
    tested = {t["alertname"] for case in yaml.safe_load(tests.read_text())["tests"] for t in case["alert_rule_test"]
              if t["exp_alerts"]}
    alerts = {r["alert"] for group in prometheus_rule()["spec"]["groups"] for r in group["rules"]}
    assert tested == alerts, f"alerts without a test that fires them: {sorted(alerts - tested)}"


def dashboard() -> dict[str, Any]:
    cm = one(build("deploy/monitoring"), "ConfigMap", "sncguard-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    return json.loads(cm["data"]["sncguard-dashboard.json"])


def targets(board: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(p, t) for p in board["panels"] for t in p.get("targets") or ()]


def test_dashboard_shows_what_the_brief_asks_with_real_metrics():
    board = dashboard()
    exprs = [t["expr"] for _, t in targets(board)]
    assert metric_names_in(" ".join(exprs)) <= exported_metric_names()
    joined = " ".join(exprs)
    for needed in ("sncguard_policy_compliant", "sncguard_findings", "sncguard_zonespread_sla_eligible",
                   "histogram_quantile(0.99", "sncguard_api_requests_total"):
        assert needed in joined, needed
    assert any("by (verb, outcome)" in e for e in exprs) and any("by (severity)" in e for e in exprs)
    # Current panel types: Grafana only migrates graph and singlestat, and will drop them.
    assert {p["type"] for p in board["panels"]} <= {"timeseries", "stat", "table", "gauge", "bargauge"}
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])


@pytest.mark.parametrize("path", [DASHBOARD, CONSOLE_DASHBOARD], ids=["grafana", "openshift-console"])
def test_dashboards_show_tenant_policies_whatever_namespace_is_chosen(path):
    # A TenantPolicy's series have no exported_namespace: `=~"$namespace"` alone would hide them.
    board = json.loads(path.read_text())
    for panel, target in targets(board):
        for matcher in re.findall(r'exported_namespace\s*(?:=~|=|!=|!~)\s*"[^"]*"', target["expr"]):
            assert matcher == 'exported_namespace=~"$namespace|"', (panel["title"], matcher)
    assert sum("exported_namespace" in t["expr"] for _, t in targets(board)) >= 6


# dashboard-linter's rules (github.com/grafana/dashboard-linter, lint/rule_*.go), checked here too:
# CI machines whose Go module proxy does not serve dashboard-linter still hold the dashboard to them.
LINTED_PANEL_TYPES = {"stat", "singlestat", "graph", "table", "timeseries", "gauge"}
# Units of dashboard-linter's panel-units-rule list that a dashboard of this kind may use.
GRAFANA_UNITS = {"none", "short", "percent", "percentunit", "s", "ms", "reqps", "ops", "wps", "cps",
                 "bool", "bool_yes_no", "bool_on_off", "bytes", "dtdurations"}
MATCHER = re.compile(r'([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def dashboard_linter_problems(board: dict[str, Any]) -> list[str]:
    problems = []
    templates = {t["name"]: t for t in board["templating"]["list"]}
    sources = [t for t in templates.values() if t["type"] == "datasource"]
    if [(t["name"], t.get("label"), t.get("query")) for t in sources] != [("datasource", "Data source", "prometheus")]:
        problems.append("template-datasource-rule: one Prometheus data source variable, `datasource`")
    uses_datasource = {"$datasource", "${datasource}"}
    for name in ("job", "instance"):
        t = templates.get(name)
        if not t or (t["type"], t.get("label"), t.get("multi"), t.get("allValue")) != ("query", name.title(), True,
                                                                                     ".+"):
            problems.append(f"template-{name}-rule: a multi-select query variable `{name}`, label "
                            f"{name.title()}, allValue .+")
        elif (t.get("datasource") or {}).get("uid") not in uses_datasource:
            problems.append(f"template-{name}-rule: the {name} variable uses $datasource")
    for t in templates.values():
        if t["type"] != "query":
            continue
        query = t["query"]["query"] if isinstance(t["query"], dict) else t["query"]
        call = re.search(r"([a-z_]+)\((.+)\)", query)
        if not call or call.group(1) not in ("label_names", "label_values", "metrics", "query_result"):
            problems.append(f"template-label-promql-rule: {t['name']}: {query}")
        if t.get("refresh") != 2:
            problems.append(f"template-on-time-change-reload-rule: {t['name']} must refresh on time range change")
    if board.get("editable"):
        problems.append("uneditable-dashboard: editable must be false")
    for panel in board["panels"]:
        if panel["type"] not in LINTED_PANEL_TYPES:
            continue
        title = panel.get("title")
        if not title or not panel.get("description"):
            problems.append(f"panel-title-description-rule: {title}")
        if (panel.get("datasource") or {}).get("uid") not in uses_datasource:
            problems.append(f"panel-datasource-rule: {title}")
        defaults = (panel.get("fieldConfig") or {}).get("defaults") or {}
        units = [p["value"] for o in (panel.get("fieldConfig") or {}).get("overrides") or ()
                 for p in o.get("properties") or () if p["id"] == "unit"]
        if (units[-1] if units else defaults.get("unit")) not in GRAFANA_UNITS:
            problems.append(f"panel-units-rule: {title}")
        if not panel.get("targets"):
            problems.append(f"panel-no-targets-rule: {title}")
        for target in panel.get("targets") or ():
            expr = target["expr"]
            for metric, selector in re.findall(r"\b(sncguard_\w+|up)\b\s*(\{[^}]*\})?", expr):
                matchers = set(MATCHER.findall(selector))
                for label in ("job", "instance"):
                    if (label, "=~", f"${label}") not in matchers:
                        problems.append(f"target-{label}-rule: {title}: {metric} has no {label}=~\"${label}\"")
            for interval in re.findall(r"\[([^\]]+)\]", expr):
                if interval != "$__rate_interval":
                    problems.append(f"target-rate-interval-rule: {title}: [{interval}]")
            for counter in re.finditer(r"\b\w+_total\b", expr):
                if not re.search(r"\b(rate|irate|increase)\(\s*$", expr[:counter.start()]):
                    problems.append(f"target-counter-agg-rule: {title}: {counter.group()}")
    return problems


def test_dashboard_follows_dashboard_linters_rules():
    assert dashboard_linter_problems(json.loads(DASHBOARD.read_text())) == []
    exclusions = DASHBOARD.with_name(".lint")
    if exclusions.exists():  # the linter's own exclusion file: a reason for every rule left out
        config = yaml.safe_load(exclusions.read_text()) or {}
        for kind in ("exclusions", "warnings"):
            for rule, entry in (config.get(kind) or {}).items():
                assert (entry or {}).get("reason"), f"{rule} in {exclusions.name} needs a reason"


def test_the_rules_mirror_catches_what_the_old_dashboard_did_wrong():
    old = {"editable": True, "templating": {"list": [
        {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus"}]},
        "panels": [{"type": "graph", "title": "API", "datasource": {"uid": "${datasource}"}, "targets": [
            {"expr": "sum by (verb) (rate(sncguard_api_requests_total[5m]))"}]}]}
    rules = {problem.partition(":")[0] for problem in dashboard_linter_problems(old)}
    assert rules == {"template-job-rule", "template-instance-rule", "uneditable-dashboard",
                     "panel-title-description-rule", "panel-units-rule", "target-job-rule", "target-instance-rule",
                     "target-rate-interval-rule"}


def test_dashboard_passes_dashboard_linter_strict():
    linter = tool_path("dashboard-linter", "DASHBOARD_LINTER_VERSION")
    # The linter reads the .lint beside the dashboard, if any.
    res = subprocess.run([str(linter), "lint", "--strict", str(DASHBOARD)], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, f"dashboard-linter lint --strict:\n{res.stdout}\n{res.stderr}"


def expanded(expr: str) -> str:
    """Grafana's interval variables replaced by a duration, outside quoted strings, as dashboard-linter does."""
    parts = expr.split('"')
    parts[::2] = [re.sub(r"\$\{?__(rate_interval|interval|range)\}?", "5m", part) for part in parts[::2]]
    return '"'.join(parts)


@pytest.mark.parametrize("path", [DASHBOARD, CONSOLE_DASHBOARD], ids=["grafana", "openshift-console"])
def test_dashboard_queries_are_valid_promql(path, tmp_path):
    board = json.loads(path.read_text())
    exprs = [t["expr"] for _, t in targets(board)]
    for t in board["templating"]["list"]:
        if t["type"] == "query":
            query = t["query"]["query"] if isinstance(t["query"], dict) else t["query"]
            exprs.append(re.fullmatch(r"label_values\((.+),\s*\w+\)", query).group(1))
    rules = [{"record": f"dashboard:query_{i}", "expr": expanded(e)} for i, e in enumerate(exprs)]
    (tmp_path / "queries.yaml").write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    res = subprocess.run([promtool_path(), "check", "rules", "queries.yaml"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, f"{path.name} holds invalid PromQL:\n{res.stdout}\n{res.stderr}"


def test_openshift_overlay_adds_user_workload_monitoring_and_the_console_dashboard():
    docs = build("deploy/openshift")
    base = build("deploy")
    assert {(d["kind"], d["metadata"]["name"]) for d in base} <= {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert "Route" not in kinds(docs)
    rule = one(docs, "PrometheusRule", "sncguard")
    assert rule["metadata"]["labels"]["openshift.io/prometheus-rule-evaluation-scope"] == "leaf-prometheus"
    assert rule["metadata"]["namespace"] == "sncguard-system"
    one(docs, "ServiceMonitor", "sncguard")
    cm = one(docs, "ConfigMap", "sncguard-dashboard")
    assert cm["metadata"]["namespace"] == "openshift-config-managed"
    assert cm["metadata"]["labels"]["console.openshift.io/dashboard"] == "true"
    assert "grafana_dashboard" not in cm["metadata"]["labels"]
    assert one(docs, "ClusterRole", "sncguard") == cluster_role(), "OpenShift needs no other permission"
    # The console draws graph, singlestat, gauge, table and piechart panels and nothing else: it gets the
    # console variant of the dashboard, with the same panels on the same metrics.
    console = json.loads(cm["data"]["sncguard-dashboard.json"])
    assert console == json.loads(CONSOLE_DASHBOARD.read_text())
    assert {p["type"] for p in console["panels"]} <= {"graph", "singlestat", "table", "gauge"}
    grafana = json.loads(DASHBOARD.read_text())

    def metrics(board):
        return {p["id"]: metric_names_in(" ".join(t["expr"] for t in p["targets"])) for p in board["panels"]}

    assert metrics(console) == metrics(grafana), "the console's dashboard and Grafana's show the same metrics"


# --------------------------------------------------------------------------- Argo CD


def _render_module():
    spec = importlib.util.spec_from_file_location("render_cm_patch", ARGOCD / "render_cm_patch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_argocd_cm_patch_is_rendered_from_the_lua_files():
    committed = (ARGOCD / "argocd-cm-patch.yaml").read_text(encoding="utf-8")
    assert committed == _render_module().render(), (
        "argocd/argocd-cm-patch.yaml is stale: run .venv/bin/python argocd/render_cm_patch.py --write")
    data = yaml.safe_load(committed)["data"]
    source = (ARGOCD / "health.lua").read_text(encoding="utf-8")
    for kind in crdgen.KINDS:
        key = f"resource.customizations.health.sncguard.io_{kind.kind}"
        assert data[key] == source, key
    for kind in ("Deployment", "StatefulSet"):
        assert yaml.safe_load(data[f"resource.customizations.ignoreDifferences.apps_{kind}"]) == {
            "jqPathExpressions": [_render_module().SNCGUARD_CONSTRAINT]}


def test_openshift_gitops_patch_carries_the_same_settings():
    committed = (ARGOCD / "openshift-gitops-patch.yaml").read_text(encoding="utf-8")
    assert committed == _render_module().render_gitops(), (
        "argocd/openshift-gitops-patch.yaml is stale: run .venv/bin/python argocd/render_cm_patch.py --write")
    spec = yaml.safe_load(committed)["spec"]
    checks = {(c["group"], c["kind"]): c["check"] for c in spec["resourceHealthChecks"]}
    for kind in crdgen.KINDS:
        assert checks[("sncguard.io", kind.kind)] == (ARGOCD / "health.lua").read_text(encoding="utf-8")
    assert spec["resourceIgnoreDifferences"]["resourceIdentifiers"] == [
        {"group": "apps", "kind": kind, "customization": {"jqPathExpressions": [_render_module().SNCGUARD_CONSTRAINT]}}
        for kind in ("Deployment", "StatefulSet")]


def test_every_crd_kind_has_an_argocd_health_check():
    checked = {(group, kind) for group, kind, _ in _render_module().health_checks()}
    for kind in crdgen.KINDS:
        crd = crdgen.crd(kind)
        assert (crd["spec"]["group"], crd["spec"]["names"]["kind"]) in checked


def test_argocd_applications_point_at_folders_of_this_repository():
    apps = [d for d in yaml.safe_load_all((ARGOCD / "application.yaml").read_text()) if d]
    assert {a["metadata"]["name"] for a in apps} == {"sncguard", "sncguard-policies"}
    paths = []
    for app in apps:
        assert app["kind"] == "Application" and app["metadata"]["namespace"] == "argocd"
        for source in app["spec"].get("sources") or [app["spec"]["source"]]:
            assert source["repoURL"].startswith("https://git.example.com/")
            paths.append(source["path"])
    assert sorted(paths) == ["deploy", "examples"]
    assert all((REPO / p).is_dir() for p in paths)
    policies = next(a for a in apps if a["metadata"]["name"] == "sncguard-policies")
    assert {"group": "apps", "kind": "Deployment", "jqPathExpressions": [_render_module().SNCGUARD_CONSTRAINT]} in \
        policies["spec"]["ignoreDifferences"]


# --------------------------------------------------------------------------- the image


def containerfile_instructions() -> list[tuple[str, str]]:
    text = (REPO / "Containerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_containerfile_is_multi_stage_arbitrary_uid_friendly_and_runs_the_operator():
    instructions = containerfile_instructions()
    froms = [rest for word, rest in instructions if word == "FROM"]
    assert len(froms) == 2 and froms[0].endswith(" AS builder")
    base = next(rest for word, rest in instructions if word == "ARG" and rest.startswith("PYTHON_IMAGE="))
    image = base.partition("=")[2]
    assert image == "python:3.11-slim", "a short name: no registry host in the Containerfile"
    runtime = instructions[[i for i, (w, _) in enumerate(instructions) if w == "FROM"][1]:]
    assert ("USER", "1001") in runtime
    env = " ".join(rest for word, rest in runtime if word == "ENV")
    assert "HOME=/tmp" in env
    builder_run = " ".join(rest for word, rest in instructions if word == "RUN")
    assert "pip wheel" in builder_run and "chgrp -R 0" in builder_run and "chmod -R g=u" in builder_run
    assert not any(word == "RUN" for word, _ in runtime), "the runtime stage only copies the built virtualenv"
    entrypoint = json.loads(next(rest for word, rest in runtime if word == "ENTRYPOINT"))
    cmd = json.loads(next(rest for word, rest in runtime if word == "CMD"))
    assert entrypoint == ["sncguard"]
    container = deployment()["spec"]["template"]["spec"]["containers"][0]
    assert cmd == container["args"], "the image's default command and the Deployment's agree"


def test_containerignore_sends_only_what_the_build_copies():
    lines = [ln.strip() for ln in (REPO / ".containerignore").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert lines[0] == "*"
    assert {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")} == {"pyproject.toml", "README.md", "operator"}
    copied = {source.rstrip("/") for word, rest in containerfile_instructions()
              if word == "COPY" and not rest.startswith("--from") for source in rest.split()[:-1]}
    assert copied == {"pyproject.toml", "README.md", "operator"}


def test_informer_metrics_count_the_objects_held_and_the_lists():
    from types import SimpleNamespace

    from prometheus_client import CollectorRegistry, generate_latest

    from sncguard.controller.informer import ProjectionStore
    from sncguard.controller.kinds import BY_KIND

    pods, deployments = ProjectionStore(), ProjectionStore()
    pods.put("shop", "a", object())
    pods.put("web", "b", object())
    metrics = Metrics(KubeClient(), registry=CollectorRegistry())
    metrics.follow_informers([SimpleNamespace(watched=BY_KIND["Pod"], store=pods, lists=2, skipped=0),
                              SimpleNamespace(watched=BY_KIND["Deployment"], store=deployments, lists=1, skipped=3),
                              SimpleNamespace(watched=BY_KIND["Route"], store=ProjectionStore(), lists=0, skipped=1)])
    text = generate_latest(metrics.registry).decode()
    assert 'sncguard_skipped_objects_total{resource="deployments.apps"} 3.0' in text
    assert 'sncguard_skipped_objects_total{resource="routes.route.openshift.io"} 1.0' in text
    assert 'sncguard_watched_objects{resource="pods"} 2.0' in text
    assert 'sncguard_watched_objects{resource="deployments.apps"} 0.0' in text
    assert 'sncguard_informer_lists_total{resource="pods"} 2.0' in text


def test_a_disruption_budget_keeps_one_replica_and_the_lease_is_the_only_thing_in_its_role():
    objects = build("deploy")
    (pdb,) = [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"  # a drain never waits on a broken replica
    assert pdb["spec"]["selector"]["matchLabels"] == deployment()["spec"]["selector"]["matchLabels"]
    (role,) = [o for o in objects if o["kind"] == "Role"]
    assert role["metadata"]["namespace"] == "sncguard-system"
    assert {(tuple(r["resources"]), tuple(r.get("resourceNames") or ()), tuple(r["verbs"])) for r in role["rules"]} == {
        (("leases",), (), ("create",)), (("leases",), ("sncguard-leader",), ("get", "update"))}
