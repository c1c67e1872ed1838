"""What each family of rules judges: the subject built once per evaluation and handed to every rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..api.tenantpolicy import TenantPolicySpec


@dataclass(frozen=True)
class Tenant:
    """One TenantPolicy and its scope: the namespaces it covers, each one's network zone, the namespaces
    of the other tenants, and (for the termination evidence) the policy's last status."""

    spec: TenantPolicySpec
    name: str
    namespaces: list[str]
    zone_of_namespace: Mapping[str, str] = field(default_factory=dict)
    other_tenant_namespaces: frozenset[str] | set[str] = frozenset()
    previous_status: Mapping[str, Any] | None = None
