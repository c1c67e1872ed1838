"""Property-based tests of `sncguard check`: whatever the manifests, an exit status and never a traceback.

Hypothesis draws inputs of three sorts and writes them as files (YAML, multi-document YAML, JSON,
`kubectl get` lists, no suffix) or standard input:

- objects of every kind the loader reads (the projections' kinds, the Velero kinds, the three
  policies), shaped as Kubernetes has them, with values that are plausible;
- the same objects broken in one to three places: a wrong type in any field the projections
  read, an out-of-range number, a list where an object belongs, a null, a missing kind, an
  unknown field, huge strings, deep nesting, unicode (tests/unit/fuzz_strategies.py);
- garbage: documents that are no mapping, binary junk, invalid UTF-8, YAML tags and anchors, very
  long lines, nesting deeper than any parser recurses.

The property: `sncguard.cli.main(["check", ...])` returns 0, 1 or 2; with 2 it says why on standard
error and prints nothing on standard output; with 0 or 1 the output is well-formed (JSON, SARIF,
JUnit XML); it never raises. SNCGUARD_FUZZ_EXAMPLES sets the number of examples (default 300).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import yaml
from fuzz_strategies import (
    cidr,
    dns_label,
    duration,
    examples,
    junk,
    label_map,
    label_selector,
    mutate,
    rfc3339,
    valid_spec,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sncguard.cli import main

EXAMPLES = examples(300)
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example, HealthCheck.filter_too_much])

# ---- plausible Kubernetes objects, the fields the projections read -------------------------------

names = st.one_of(dns_label, st.sampled_from(["web", "api", "db", "default", "shop"]))
namespaces = st.sampled_from(["shop", "payments", "default", "kube-system", "openshift-adp"])
ports = st.one_of(st.integers(1, 65535), st.sampled_from([22, 80, 443, 3389, 445, 2049, 21, 23, 8080]))
port_names = st.sampled_from(["http", "https", "ssh", "metrics", "dns"])
protocols = st.sampled_from(["TCP", "UDP", "SCTP"])
zones = st.sampled_from(["zone-a", "zone-b", "zone-c"])
node_names = st.sampled_from(["node-a", "node-b", "node-c", "node-x"])


def metadata(namespaced: bool = True) -> st.SearchStrategy:
    fields = {"name": names}
    optional = {"labels": label_map,
                "annotations": st.dictionaries(st.sampled_from(
                    ["sncguard.io/encryption", "service.beta.kubernetes.io/load-balancer-source-ranges", "note"]),
                    st.one_of(st.sampled_from(["true", "aws:kms", "10.0.0.0/8, 0.0.0.0/0"]), st.text(max_size=8)),
                    max_size=2),
                "uid": st.uuids().map(str), "generation": st.integers(0, 10),
                "ownerReferences": st.lists(st.fixed_dictionaries({"uid": st.uuids().map(str)}), max_size=1)}
    if namespaced:
        optional["namespace"] = namespaces
    return st.fixed_dictionaries(fields, optional=optional)


def obj(api: str, kind: str, spec: st.SearchStrategy | None = None, namespaced: bool = True,
        **extra: st.SearchStrategy) -> st.SearchStrategy:
    fields: dict[str, st.SearchStrategy] = {"apiVersion": st.just(api), "kind": st.just(kind),
                                            "metadata": metadata(namespaced)}
    optional = dict(extra)
    if spec is not None:
        optional["spec"] = spec
    return st.fixed_dictionaries(fields, optional=optional)


def spec_of(**fields: st.SearchStrategy) -> st.SearchStrategy:
    return st.fixed_dictionaries({}, optional=fields)


node_affinity = st.fixed_dictionaries({"nodeAffinity": st.fixed_dictionaries({
    "requiredDuringSchedulingIgnoredDuringExecution": st.fixed_dictionaries({
        "nodeSelectorTerms": st.lists(spec_of(
            matchExpressions=st.lists(st.fixed_dictionaries({
                "key": st.sampled_from(["topology.kubernetes.io/zone", "topology.kubernetes.io/region", "rank"]),
                "operator": st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"])},
                optional={"values": st.lists(st.one_of(zones, st.sampled_from(["eu-fr-paris", "3"])), max_size=2)}),
                max_size=2),
            matchFields=st.lists(st.fixed_dictionaries({
                "key": st.just("metadata.name"), "operator": st.sampled_from(["In", "NotIn"]),
                "values": st.lists(node_names, max_size=2)}), max_size=1)), max_size=2)})})})
spread = st.fixed_dictionaries({
    "maxSkew": st.integers(1, 3), "topologyKey": st.sampled_from(["topology.kubernetes.io/zone",
                                                                 "kubernetes.io/hostname"]),
    "whenUnsatisfiable": st.sampled_from(["DoNotSchedule", "ScheduleAnyway"])},
    optional={"labelSelector": label_selector, "minDomains": st.integers(1, 4),
              "matchLabelKeys": st.just(["pod-template-hash"])})
container = st.fixed_dictionaries({"name": names, "image": st.just("app:1")}, optional={
    "ports": st.lists(st.fixed_dictionaries({"containerPort": ports},
                                            optional={"protocol": protocols, "name": port_names}), max_size=2)})
pod_spec = spec_of(containers=st.lists(container, min_size=1, max_size=2), nodeName=node_names,
                   nodeSelector=st.dictionaries(st.just("topology.kubernetes.io/zone"), zones, max_size=1),
                   affinity=node_affinity, hostNetwork=st.booleans(),
                   topologySpreadConstraints=st.lists(spread, max_size=2))
template = st.fixed_dictionaries({"metadata": st.fixed_dictionaries({"labels": label_map}), "spec": pod_spec})
workload_spec = spec_of(replicas=st.integers(0, 5), selector=label_selector, template=template)
peer = spec_of(podSelector=label_selector, namespaceSelector=label_selector,
               ipBlock=st.fixed_dictionaries({"cidr": cidr}, optional={"except": st.lists(cidr, max_size=1)}))
np_port = spec_of(port=st.one_of(ports, port_names), endPort=ports, protocol=protocols)
np_rule_in = spec_of(**{"from": st.lists(peer, max_size=2)}, ports=st.lists(np_port, max_size=2))
np_rule_out = spec_of(to=st.lists(peer, max_size=2), ports=st.lists(np_port, max_size=2))
velero_template = spec_of(includedNamespaces=st.lists(namespaces, max_size=2),
                          excludedNamespaces=st.lists(namespaces, max_size=1),
                          storageLocation=st.sampled_from(["default", "offsite"]), ttl=duration)

K8S_OBJECTS: list[st.SearchStrategy] = [
    obj("v1", "Namespace", namespaced=False),
    obj("v1", "Node", namespaced=False),
    obj("v1", "Pod", pod_spec, status=spec_of(
        phase=st.sampled_from(["Running", "Pending", "Succeeded"]), podIP=st.sampled_from(["10.1.0.4", "", "fd00::4"]),
        conditions=st.lists(st.fixed_dictionaries({"type": st.just("Ready"),
                                                   "status": st.sampled_from(["True", "False"])}), max_size=1))),
    obj("apps/v1", "Deployment", workload_spec),
    obj("apps/v1", "StatefulSet", workload_spec),
    obj("policy/v1", "PodDisruptionBudget", spec_of(
        selector=label_selector, minAvailable=st.one_of(st.integers(0, 3), st.sampled_from(["50%", "100%", "x%"])),
        maxUnavailable=st.one_of(st.integers(0, 3), st.sampled_from(["50%", "0%"])))),
    obj("v1", "Service", spec_of(
        type=st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]),
        ports=st.lists(spec_of(port=ports, protocol=protocols, targetPort=st.one_of(ports, port_names),
                               nodePort=st.integers(30000, 32767), name=port_names), max_size=3),
        selector=label_map, loadBalancerSourceRanges=st.lists(cidr, max_size=2),
        externalIPs=st.lists(st.sampled_from(["203.0.113.7", "10.0.0.1"]), max_size=1))),
    obj("networking.k8s.io/v1", "NetworkPolicy", spec_of(
        podSelector=label_selector, policyTypes=st.lists(st.sampled_from(["Ingress", "Egress"]), max_size=2,
                                                         unique=True),
        ingress=st.lists(np_rule_in, max_size=2), egress=st.lists(np_rule_out, max_size=2))),
    obj("networking.k8s.io/v1", "Ingress", spec_of(
        rules=st.lists(spec_of(host=st.sampled_from(["shop.example.com", "*.example.com"])), max_size=2),
        tls=st.lists(spec_of(hosts=st.lists(st.just("shop.example.com"), max_size=1)), max_size=1))),
    obj("route.openshift.io/v1", "Route", spec_of(
        host=st.just("shop.example.com"), to=st.fixed_dictionaries({"name": names}),
        tls=spec_of(termination=st.sampled_from(["edge", "passthrough", "reencrypt"]),
                    insecureEdgeTerminationPolicy=st.sampled_from(["Allow", "Redirect", "None"])))),
    obj("rbac.authorization.k8s.io/v1", "RoleBinding", None,
        roleRef=st.fixed_dictionaries({"kind": st.sampled_from(["ClusterRole", "Role"]),
                                       "name": st.sampled_from(["admin", "edit", "view"])}),
        subjects=st.lists(st.fixed_dictionaries({"kind": st.sampled_from(["User", "Group", "ServiceAccount"]),
                                                 "name": names}, optional={"namespace": namespaces}), max_size=2)),
    obj("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", None, namespaced=False,
        roleRef=st.fixed_dictionaries({"kind": st.just("ClusterRole"), "name": st.sampled_from(["admin", "view"])}),
        subjects=st.lists(st.fixed_dictionaries({"kind": st.sampled_from(["User", "Group"]),
                                                 "name": st.sampled_from(["system:authenticated", "bob"])}),
                          max_size=2)),
    obj("v1", "PersistentVolume", spec_of(
        claimRef=spec_of(namespace=namespaces, name=names), nodeAffinity=st.fixed_dictionaries({
            "required": st.fixed_dictionaries({"nodeSelectorTerms": st.lists(spec_of(matchExpressions=st.lists(
                st.fixed_dictionaries({"key": st.just("topology.kubernetes.io/region"), "operator": st.just("In"),
                                       "values": st.lists(st.sampled_from(["eu-fr-paris", "us-east-1"]),
                                                          min_size=1, max_size=2)}), max_size=1)), max_size=1)})})),
        namespaced=False),
    obj("v1", "PersistentVolumeClaim", spec_of(volumeName=names)),
    obj("velero.io/v1", "BackupStorageLocation", spec_of(
        provider=st.just("aws"), objectStorage=st.fixed_dictionaries({"bucket": names}),
        config=st.dictionaries(st.sampled_from(["region", "serverSideEncryption", "kmsKeyId"]),
                               st.sampled_from(["eu-fr-paris", "aws:kms", "AES256"]), max_size=2)),
        status=spec_of(phase=st.sampled_from(["Available", "Unavailable"]))),
    obj("velero.io/v1", "Schedule", spec_of(schedule=st.sampled_from(["0 2 * * *", "@daily"]),
                                            template=velero_template, paused=st.booleans()),
        status=spec_of(phase=st.sampled_from(["Enabled", "FailedValidation"]))),
    obj("velero.io/v1", "Backup", velero_template, status=spec_of(
        phase=st.sampled_from(["Completed", "Failed", "PartiallyFailed"]), startTimestamp=rfc3339,
        completionTimestamp=rfc3339)),
    obj("velero.io/v1", "Restore", spec_of(backupName=names, namespaceMapping=st.dictionaries(namespaces, names,
                                                                                              max_size=1)),
        status=spec_of(phase=st.sampled_from(["Completed", "Failed"]), completionTimestamp=rfc3339,
                       startTimestamp=rfc3339)),
    obj("sncguard.io/v1alpha1", "ZoneSpread", valid_spec("ZoneSpread")),
    obj("sncguard.io/v1alpha1", "TenantPolicy", valid_spec("TenantPolicy"), namespaced=False),
    obj("sncguard.io/v1alpha1", "BackupPolicy", valid_spec("BackupPolicy")),
]

plausible = st.one_of(K8S_OBJECTS)


# What the projections and the policies read, where a mutation lands four times out of five.
READ_FIELDS = ("spec", "status", "subjects", "roleRef", "kind", "apiVersion")


def _break(draw: st.DrawFn, tree: Any) -> Any:
    """`tree` broken one to three times (YAML also carries dates, NaN and infinity)."""
    for _ in range(draw(st.integers(1, 3))):
        tree = draw(mutate(tree, finite=False, max_deep=60, max_huge=20_000, prefer=READ_FIELDS))
    return tree


@st.composite
def broken_object(draw: st.DrawFn) -> Any:
    """A plausible object, broken."""
    return _break(draw, draw(plausible))


@st.composite
def world(draw: st.DrawFn) -> list[Any]:
    """Objects of a few namespaces that meet (labels, selectors, policies), one or two of them broken."""
    docs = draw(st.lists(plausible, min_size=2, max_size=8))
    for _ in range(draw(st.integers(0, 2))):
        i = draw(st.integers(0, len(docs) - 1))
        docs[i] = _break(draw, docs[i])
    return docs


document = st.one_of(plausible, broken_object(), junk(finite=False),
                     st.sampled_from([None, [], "text", 3, {"metadata": {"name": "no-kind"}}]),
                     st.dates().map(lambda d: {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": d}}))

# ---- how documents become input -----------------------------------------------------------------


def _yaml(docs: list[Any]) -> str:
    return yaml.safe_dump_all(docs, allow_unicode=True, sort_keys=False)


def _json(doc: Any) -> str:
    return json.dumps(doc, default=str, ensure_ascii=False)  # NaN and Infinity: json.loads reads them back


RAW_GARBAGE = [
    "[" * 5000 + "]" * 5000,
    "{a: " * 3000 + "1" + "}" * 3000,
    '{"kind": ' + "[" * 5000 + "]" * 5000 + "}",
    "- " * 3000 + "x",
    "kind: Pod\nmetadata: &a {name: x, labels: *a}\n",
    "a: &a [*a, *a]\n",
    "kind: !!python/object/apply:os.system ['true']\n",
    "kind: Namespace\nmetadata: !!omap [{name: x}]\n",
    "kind: Namespace\nmetadata: {name: x, labels: !!set {a, b}}\n",
    "kind: Namespace\nmetadata: {name: !!binary aGVsbG8=}\n",
    "kind: Deployment\napiVersion: apps/v1\nmetadata: {name: x}\nspec: {replicas: .inf}\n",
    "kind: Deployment\napiVersion: apps/v1\nmetadata: {name: x}\nspec: {replicas: .nan}\n",
    "kind: Deployment\napiVersion: apps/v1\nmetadata: {name: 2024-01-01, namespace: 2024-01-01}\n",
    "kind: Node\napiVersion: v1\nmetadata: {name: n, labels: {topology.kubernetes.io/zone: 1}}\n",
    "\ufeffkind: Namespace\nmetadata: {name: bom}\n",
    "kind: Namespace\nmetadata: {name: " + "x" * 200_000 + "}\n",
    "---\n---\n...\n",
    "%YAML 1.1\n---\nkind: Namespace\nmetadata: {name: v}\n",
    "kind: List\nitems: {a: 1}\n",
    '{"kind": "List", "items": [1, 2]}',
    '{"kind": "PodList", "items": [{"metadata": {"name": "p"}, "spec": []}]}',
    '{"kind": "List", "items": [], "items": [{"kind": 1}]}',
    "{\"kind\": \"Namespace\", \"metadata\": {\"name\": \"\\ud800\"}}",
    "",
    "\x00\x01\x02",
    "\t\tkind: x",
]


@st.composite
def input_bytes(draw: st.DrawFn) -> tuple[str, bytes]:
    """(file suffix, content): one manifest file as the check reads it."""
    shape = draw(st.sampled_from(["world"] * 6 + ["yaml", "multi", "json", "list", "typed-list", "raw", "binary",
                                                   "invalid-utf8", "long-line"]))
    if shape == "world":
        docs = draw(world())
        if draw(st.integers(0, 3)):
            return draw(st.sampled_from([".yaml", ".yml", ""])), _yaml(docs).encode()
        return ".json", _json({"apiVersion": "v1", "kind": "List", "items": docs}).encode()
    if shape in ("yaml", "multi"):
        docs = draw(st.lists(document, min_size=1, max_size=1 if shape == "yaml" else 4))
        return draw(st.sampled_from([".yaml", ".yml", ""])), _yaml(docs).encode()
    if shape == "json":
        return ".json", _json(draw(document)).encode()
    if shape in ("list", "typed-list"):
        items = draw(st.lists(document, max_size=4))
        kind = "List" if shape == "list" else draw(st.sampled_from(["PodList", "DeploymentList", "NamespaceList"]))
        doc = {"apiVersion": "v1", "kind": kind, "items": items}
        if draw(st.booleans()):
            return ".json", _json(doc).encode()
        return ".yaml", _yaml([doc]).encode()
    if shape == "raw":
        return draw(st.sampled_from([".yaml", ".json", ""])), draw(st.sampled_from(RAW_GARBAGE)).encode(
            "utf-8", "surrogatepass")
    if shape == "binary":
        return draw(st.sampled_from([".yaml", ".json", ""])), draw(st.binary(max_size=200))
    if shape == "invalid-utf8":
        text = _yaml([draw(plausible)]).encode()
        cut = draw(st.integers(0, len(text)))
        bad = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"]))
        return ".yaml", text[:cut] + bad + text[cut:]
    # long-line: one object whose line is megabytes long
    doc = draw(plausible)
    doc.setdefault("metadata", {})["annotations"] = {"note": "y" * draw(st.sampled_from([10_000, 1_000_000]))}
    return draw(st.sampled_from([".yaml", ".json"])), (_json(doc) if draw(st.booleans()) else _yaml([doc])).encode()


def run_check(args: list[str], stdin: bytes | None = None) -> tuple[int, str, str]:
    """`sncguard check ARGS` in-process; any exception fails the test with its traceback.

    Standard output and error are UTF-8 streams as a terminal or pipe gives them (strict, and
    backslashreplace for errors, Python's defaults), so that what cannot be printed fails here too.
    """
    out_bytes, err_bytes = io.BytesIO(), io.BytesIO()
    out = io.TextIOWrapper(out_bytes, encoding="utf-8", errors="strict")
    err = io.TextIOWrapper(err_bytes, encoding="utf-8", errors="backslashreplace")
    old_stdin = sys.stdin
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["check", *args])
            out.flush()
            err.flush()
    finally:
        sys.stdin = old_stdin
    return code, out_bytes.getvalue().decode(), err_bytes.getvalue().decode()


def assert_contract(code: int, out: str, err: str, output: str) -> None:
    assert code in (0, 1, 2), (code, err)
    assert "Traceback" not in err
    if code == 2:
        assert err.strip(), "exit status 2 without a message on standard error"
        assert out == "", "exit status 2 printed a report"
        return
    if output in ("json", "sarif"):
        report = json.loads(out)
        assert isinstance(report, list if output == "json" else dict)
    elif output == "junit":
        ET.fromstring(out)
    else:
        assert out.endswith("\n")


@SETTINGS
@given(files=st.lists(input_bytes(), min_size=1, max_size=3), as_folder=st.booleans(),
       output=st.sampled_from(["json", "json", "text", "sarif", "junit"]),
       language=st.sampled_from(["en", "fr"]), namespace=st.sampled_from([None, "shop", "default"]))
def test_check_ends_with_a_status_never_a_traceback(files, as_folder, output, language, namespace):
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, (suffix, content) in enumerate(files):
            path = Path(tmp, f"m{i}{suffix}")
            path.write_bytes(content)
            paths.append(path)
        # A folder: only its .yaml, .yml and .json files are read.
        args = [tmp] if as_folder else [str(p) for p in paths]
        args += ["--output", output, "--language", language, "--now", "2026-11-22T10:00:00Z"]
        if namespace:
            args += ["--namespace", namespace]
        assert_contract(*run_check(args), output)


@SETTINGS
@given(content=input_bytes(), output=st.sampled_from(["json", "text"]))
def test_check_of_standard_input_ends_with_a_status_never_a_traceback(content, output):
    code, out, err = run_check(["-", "--output", output, "--now", "2026-11-22T10:00:00Z"], stdin=content[1])
    assert_contract(code, out, err, output)
