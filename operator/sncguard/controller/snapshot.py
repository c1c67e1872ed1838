"""One read of a cluster, for `sncguard report`: every watched kind LISTed once, and the policies with
their status.

The same path as the operator's: sncguard's own client (kube.py) with the credentials kopf's login
resolves, the informer's paged LIST (informer.py), which projects each item by the kind of its
`Watched` entry, never by the body (the items of a LIST carry no kind), and the same ClusterView. An
optional API that is absent (Velero, Routes) is empty; a kind sncguard may not list is named, empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kopf
import yaml

from .. import API_VERSION
from ..loader import Inputs, PolicyDocument, PolicyError, parse_policy_spec
from ..view import ClusterView
from .informer import Informer
from .kinds import VELERO_GROUP, WATCHED
from .kube import ApiError, KubeClient, resource_path

POLICY_KINDS = ("ZoneSpread", "TenantPolicy", "BackupPolicy")


class ClusterUnreadable(Exception):
    """The cluster cannot be read: no credentials, an unknown context, an API that refuses."""


@dataclass
class ClusterSnapshot:
    inputs: Inputs
    # (kind, namespace or "", name) -> the policy's status, as the operator wrote it.
    statuses: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    # Resources sncguard may not list here ("pods", "backups.velero.io"): empty in the view.
    unreadable: list[str] = field(default_factory=list)
    server: str = ""
    context: str = ""


@contextlib.contextmanager
def _kubeconfig_env(kubeconfig: str | None, context: str | None) -> Iterator[None]:
    """KUBECONFIG as kopf's login reads it: `kubeconfig` if given, and `context` as the current one
    (a small file naming it, first on the path: the first current-context of the list wins)."""
    saved = os.environ.get("KUBECONFIG")
    paths = kubeconfig or saved or ""
    if not paths and Path("~/.kube/config").expanduser().exists():
        paths = str(Path("~/.kube/config").expanduser())
    handle = None
    try:
        if context:
            handle = tempfile.NamedTemporaryFile("w", prefix="sncguard-context-", suffix=".yaml")  # noqa: SIM115
            handle.write(f"current-context: {context!r}\n")
            handle.flush()
            paths = os.pathsep.join(p for p in (handle.name, paths) if p)
        if paths:
            os.environ["KUBECONFIG"] = paths
        yield
    finally:
        if saved is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = saved
        if handle is not None:
            handle.close()


def connection_info(kubeconfig: str | None = None, context: str | None = None) -> tuple[Any, str]:
    """kopf's ConnectionInfo for the kubeconfig (KUBECONFIG, ~/.kube/config) and its current context, or
    `context`; the in-cluster service account when there is no kubeconfig. Also the context's name."""
    settings = kopf.OperatorSettings()
    with _kubeconfig_env(kubeconfig, context):
        if not os.environ.get("KUBECONFIG"):
            info = kopf.login_with_service_account(settings=settings)
            if info is None:
                raise ClusterUnreadable("no kubeconfig (--kubeconfig, KUBECONFIG, ~/.kube/config) "
                                        "and no in-cluster service account")
            return info, "in-cluster"
        try:
            info = kopf.login_with_kubeconfig(settings=settings)
        except KeyError as exc:
            raise ClusterUnreadable(f"the kubeconfig names no context, cluster or user {exc}") from None
        except (OSError, ValueError, kopf.LoginError) as exc:
            raise ClusterUnreadable(f"cannot read the kubeconfig: {exc}") from None
        name = context or _current_context(os.environ["KUBECONFIG"])
    if info is None or not info.server:
        raise ClusterUnreadable("the kubeconfig's context names no server")
    return info, name


def _current_context(paths: str) -> str:
    """The first current-context of the kubeconfig files, as kopf's login takes it ("" if none)."""
    for path in paths.split(os.pathsep):
        if not path.strip():
            continue
        with contextlib.suppress(OSError, yaml.YAMLError, AttributeError):
            name = (yaml.safe_load(Path(path.strip()).expanduser().read_text(encoding="utf-8")) or {}).get(
                "current-context")
            if name:
                return str(name)
    return ""


def _resource_label(group: str, plural: str) -> str:
    return f"{plural}.{group}" if group else plural


async def _list_kinds(client: KubeClient, snapshot: ClusterSnapshot) -> None:
    view = snapshot.inputs.view
    velero_present = False
    for watched in WATCHED:
        informer = Informer(watched, client, on_change=lambda *_: None)
        try:
            await informer.list()
        except ApiError as exc:
            if exc.status == 404 and watched.optional:
                continue  # the API is not served: the kind is empty
            if exc.status in (401, 403):
                snapshot.unreadable.append(_resource_label(watched.group, watched.plural))
                continue
            raise
        velero_present |= watched.group == VELERO_GROUP
        view.add(watched.kind, [value for key in informer.store for value in informer.store[key]])
    view.velero_installed = velero_present


async def _list_policies(client: KubeClient, snapshot: ClusterSnapshot) -> None:
    inputs = snapshot.inputs
    for kind in POLICY_KINDS:
        path = resource_path(API_VERSION, kind, None)
        params: dict[str, str] = {"limit": "500"}
        while True:
            try:
                page = await client.request("GET", path, params=params)
            except ApiError as exc:
                if exc.status == 404:
                    break  # the CRD is not installed: no policy of the kind
                if exc.status in (401, 403):
                    snapshot.unreadable.append(_resource_label("sncguard.io", path.rsplit("/", 1)[-1]))
                    break
                raise
            for item in page.get("items") or ():
                meta = item.get("metadata") or {}
                namespace = meta.get("namespace") or ""
                name = meta.get("name") or ""
                try:
                    spec = parse_policy_spec(kind, item.get("spec") or {})
                except ValueError as exc:
                    inputs.errors.append(PolicyError("cluster", 0, kind, namespace, name, str(exc)))
                    continue
                inputs.policies.append(PolicyDocument(kind, namespace, name, spec, "cluster",
                                                      int(meta.get("generation") or 0)))
                inputs.documents += 1
                if isinstance(item.get("status"), dict):
                    snapshot.statuses[(kind, namespace, name)] = item["status"]
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                break
            params = {"limit": "500", "continue": token}
    inputs.policies.sort(key=lambda p: (p.kind, p.namespace, p.name))


async def _read(info: Any) -> ClusterSnapshot:
    client = KubeClient()
    await client.configure(info)
    snapshot = ClusterSnapshot(Inputs(view=ClusterView(pods_observed=True, nodes_observed=True)),
                               server=info.server)
    try:
        await _list_kinds(client, snapshot)
        await _list_policies(client, snapshot)
    finally:
        await client.close()
    return snapshot


def read_cluster(kubeconfig: str | None = None, context: str | None = None) -> ClusterSnapshot:
    """Every kind the rules read and every sncguard policy with its status, LISTed once."""
    info, name = connection_info(kubeconfig, context)
    try:
        snapshot = asyncio.run(_read(info))
    except ApiError as exc:
        if exc.status == 0:
            raise ClusterUnreadable(f"cannot reach the API server at {info.server}: {exc.message}") from None
        raise ClusterUnreadable(f"the API server at {info.server} answered: {exc}") from None
    except OSError as exc:
        raise ClusterUnreadable(f"cannot reach the API server at {info.server}: {exc}") from None
    snapshot.context = name
    return snapshot
