"""Fixtures for the integration tests: a real local control plane and a namespace per test.

`cluster` (session) starts hack/cluster/localcluster.py's LocalCluster in a temporary directory
and stops it at the end of the session, on failures and Ctrl-C too; a watchdog process also
stops it if pytest itself is killed. It exposes `kubeconfig` (path), `env` (environment for
subprocesses: KUBECONFIG, PATH with kubectl first), `kubectl(*args, check=True, input=None)`,
`kubectl_json(...)`, `api()` (a small HTTPS client with admin credentials) and `restart(name)`.
With SNCGUARD_TEST_CLUSTER_DIR set to the directory of a cluster that is already up (say
`make cluster-up`'s), the tests use that one and leave it running.

`namespace` (function) creates a fresh namespace named after the test, waits until pods can be
created in it (its `default` service account exists), and deletes it afterwards without waiting.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# create_namespace, delete_namespace and namespace_name are also imported from here by tests.
from .helpers import REPO, create_namespace, delete_namespace, namespace_name, reference

CLUSTER_NAME = "sncguard-test"


def _load_localcluster():
    """hack/cluster is not a package: load localcluster.py from its path, once."""
    if "localcluster" in sys.modules:
        return sys.modules["localcluster"]
    spec = importlib.util.spec_from_file_location("localcluster", REPO / "hack/cluster/localcluster.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["localcluster"] = module
    spec.loader.exec_module(module)
    return module


localcluster = _load_localcluster()
LocalCluster = localcluster.LocalCluster


# --------------------------------------------------------------------------- cluster


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    existing = os.environ.get("SNCGUARD_TEST_CLUSTER_DIR")
    if existing:
        c = LocalCluster(existing)
        if not c.is_up():
            pytest.fail(f"SNCGUARD_TEST_CLUSTER_DIR={existing} has no running cluster")
        yield c
        return
    c = LocalCluster(tmp_path_factory.mktemp("cluster"), name=CLUSTER_NAME)
    try:
        c.start(owner_pid=os.getpid())
        yield c
    finally:
        c.stop()


# --------------------------------------------------------------------------- namespaces


@pytest.fixture
def namespace(cluster: LocalCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    name = create_namespace(cluster, namespace_name(request.node.name))
    try:
        yield name
    finally:
        delete_namespace(cluster, name)


# --------------------------------------------------------------------------- sncguard


from .operator_process import OperatorProcess, running  # noqa: E402


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """A control plane of the test's own, with sncguard's CRDs and the real Velero v1.16 and
    wg-policy PolicyReport CRDs: for tests that stop and start operators or the API server, or need
    the whole cluster to themselves."""
    try:
        reference_crds = (reference.velero_crds(), reference.policy_report_crds())
    except reference.ReferenceMissing as exc:
        pytest.fail(f"the real Velero and PolicyReport CRDs are needed: {exc}")
    own = LocalCluster(tmp_path / "cluster", name="sncguard-own")
    try:
        own.start(owner_pid=os.getpid())
        for folder in (REPO / "crds", *reference_crds):
            own.kubectl("apply", "--server-side", "-f", str(folder))
            own.kubectl("wait", "--for", "condition=established", "--timeout=60s", "-f", str(folder))
        yield own
    finally:
        own.stop()


@pytest.fixture(scope="session")
def crds(cluster: LocalCluster) -> Path:
    """sncguard's generated CRDs, installed and established."""
    folder = REPO / "crds"
    cluster.kubectl("apply", "--server-side", "-f", str(folder))
    cluster.kubectl("wait", "--for", "condition=established", "--timeout=60s", "-f", str(folder))
    return folder


@pytest.fixture(scope="session")
def operator(cluster: LocalCluster, crds: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    """One `sncguard run` for the session, as a real process with its own log."""
    with running(OperatorProcess(cluster.env, tmp_path_factory.mktemp("operator") / "operator.log")) as process:
        yield process


@pytest.fixture
def live_operator(operator: OperatorProcess) -> Iterator[OperatorProcess]:
    """The session operator, checked alive after the test: no input may crash it."""
    yield operator
    assert operator.alive(), f"the operator died:\n{operator.log_tail()}"
