"""Helpers for the integration tests: waiting, and namespaces on the local cluster."""

from __future__ import annotations

import contextlib
import importlib.util
import re
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]


def load_module(name: str, relative_path: str):
    """A module of the repository that is no package (hack/, a test helper), loaded from its path."""
    spec = importlib.util.spec_from_file_location(name, REPO / relative_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Where the real Velero and PolicyReport CRDs come from.
reference = load_module("sncguard_reference", "hack/cluster/reference.py")


class WaitTimeout(AssertionError):
    """wait_for gave up; an AssertionError so that pytest reports it as a plain failure."""


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 30.0,
    interval: float = 0.2,
    message: str | Callable[[], str] = "condition",
) -> T:
    """Call `predicate` until it returns something truthy, and return that.

    Exceptions from the predicate count as "not yet" (an object not created yet, kubectl
    failing while a resource is not discoverable); the last one is reported on timeout.
    `message` may be a callable, evaluated only on timeout, to add diagnostics (a pod dump).
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    last_value: object = None
    while True:
        try:
            last_value = predicate()
            if last_value:
                return last_value
            last_error = None
        except Exception as e:
            last_error = e
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            detail = f"last error: {last_error!r}" if last_error else f"last value: {last_value!r}"
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {text}; {detail}")
        time.sleep(interval)


def namespace_name(test_name: str) -> str:
    """A unique DNS label (<= 63 chars) that says which test made it."""
    suffix = secrets.token_hex(3)
    base = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-") or "test"
    base = base[: 63 - len(suffix) - 1].rstrip("-")
    return f"{base}-{suffix}"


def create_namespace(cluster, name: str, timeout: float = 30) -> str:
    """Create a namespace and wait until pods can be created in it."""
    api = cluster.api()
    api.must("POST", "/api/v1/namespaces",
             {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    # The ServiceAccount admission plugin refuses pods until the controller-manager has created
    # the namespace's `default` account (milliseconds later): wait, as tests create pods at once.
    wait_for(lambda: api.request("GET", f"/api/v1/namespaces/{name}/serviceaccounts/default")[0] == 200,
             timeout=timeout, interval=0.05, message=f"service account default in {name}")
    return name


def delete_namespace(cluster, name: str) -> None:
    """Start the deletion and return; the namespace controller and fake kubelet finish it."""
    cluster.api().request("DELETE", f"/api/v1/namespaces/{name}")


@contextlib.contextmanager
def tenant_namespaces(cluster, prefix: str) -> Iterator[tuple[str, str, str]]:
    """(tenant, its dmz namespace, its lan namespace), labelled as the examples' TenantPolicies
    select them; afterwards the namespaces are deleted, with the TenantPolicy of the tenant's name."""
    name = f"{prefix}-{secrets.token_hex(2)}"
    dmz, lan = f"{name}-dmz", f"{name}-lan"
    for ns, zone in ((dmz, "dmz"), (lan, "lan")):
        create_namespace(cluster, ns)
        cluster.kubectl("label", "namespace", ns, f"sncguard.io/tenant={name}", f"sncguard.io/zone={zone}")
    try:
        yield name, dmz, lan
    finally:
        cluster.kubectl("delete", "tenantpolicy", name, "--ignore-not-found", "--wait=false")
        for ns in (dmz, lan):
            delete_namespace(cluster, ns)
