"""TenantPolicy: a tenant's namespaces, network zones and flow matrix, access and location rules."""

from __future__ import annotations

import enum
import ipaddress
from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field, field_validator, model_validator

from .common import DNS_LABEL_PATTERN, LabelSelector, Mode, ModeField, Model, PolicyStatus

Port = Annotated[int, Field(ge=1, le=65535)]


class Protocol(enum.StrEnum):
    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


class FlowPeer(Model):
    """One end of a flow: a network zone, namespaces (and pods) by labels, or an address range."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        {"rule": "has(self.cidr) ? !has(self.zone) && !has(self.namespaceSelector)"
                 " : (has(self.zone) || has(self.namespaceSelector))",
         "message": "a flow end is either a cidr, or a zone or namespaceSelector (optionally with a podSelector)"},
        {"rule": "!has(self.cidr) || !has(self.podSelector)",
         "message": "podSelector cannot be combined with cidr"},
        {"rule": "!has(self.cidr) || isCIDR(self.cidr)",
         "message": "cidr must be an IPv4 or IPv6 network such as 203.0.113.0/24"},
    ]})

    zone: Annotated[str | None, Field(max_length=63, pattern=DNS_LABEL_PATTERN)] = None
    namespace_selector: LabelSelector | None = None
    pod_selector: LabelSelector | None = None
    cidr: Annotated[str | None, Field(max_length=64)] = None

    @field_validator("cidr")
    @classmethod
    def _valid_cidr(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not a CIDR network: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_kind_of_end(self) -> FlowPeer:
        if self.cidr is not None:
            if self.zone is not None or self.namespace_selector is not None or self.pod_selector is not None:
                raise ValueError("a cidr flow end takes no zone, namespaceSelector or podSelector")
        elif self.zone is None and self.namespace_selector is None:
            raise ValueError("a flow end needs a zone, a namespaceSelector or a cidr")
        return self


class FlowPort(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        {"rule": "!has(self.endPort) || (type(self.port) == int && self.endPort >= self.port)",
         "message": "endPort needs a numeric port and must not be below it"},
    ]})

    protocol: Protocol = Protocol.TCP
    port: Annotated[int | str, Field(json_schema_extra={"x-kubernetes-int-or-string": True})]
    end_port: Port | None = None

    @field_validator("port")
    @classmethod
    def _valid_port(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 1 <= value <= 65535:
            raise ValueError(f"port {value} is outside 1-65535")
        if isinstance(value, str) and not value:
            raise ValueError("a named port cannot be empty")
        return value


class Flow(Model):
    name: Annotated[str, Field(max_length=63, pattern=DNS_LABEL_PATTERN)]
    from_: Annotated[FlowPeer, Field(alias="from")]
    to: FlowPeer
    ports: Annotated[list[FlowPort] | None, Field(
        max_length=32, description="The ports the flow opens; absent opens all ports.")] = None


class SubjectKind(enum.StrEnum):
    USER = "User"
    GROUP = "Group"
    SERVICE_ACCOUNT = "ServiceAccount"


class Subject(Model):
    """An RBAC subject; `apiGroup` is accepted so subjects can be pasted from a RoleBinding."""

    kind: SubjectKind
    name: Annotated[str, Field(min_length=1, max_length=256)]
    namespace: Annotated[str | None, Field(max_length=63)] = None
    api_group: Annotated[str | None, Field(max_length=253)] = None


class AccessGrant(Model):
    """A temporary, written authorisation (R9): the subject may use clusterRole until it expires."""

    subject: Subject
    cluster_role: Annotated[str, Field(min_length=1, max_length=253)]
    expires: Annotated[datetime, Field(json_schema_extra={"format": "date-time"})]
    reason: Annotated[str, Field(min_length=1, max_length=512,
                                 description="The ticket or written agreement behind the grant.")]

    @field_validator("expires")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("expires needs a time zone (RFC 3339, e.g. 2026-12-01T00:00:00Z)")
        return value



class TenantPolicySpec(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        {"rule": "!has(self.flows) || self.flows.all(f, (!has(f.from.zone) || (has(self.zones) && f.from.zone "
                 "in self.zones)) && (!has(f.to.zone) || (has(self.zones) && f.to.zone in self.zones)))",
         "message": "every zone a flow names must be declared under spec.zones"},
        {"rule": "!has(self.flows) || self.flows.all(f, self.flows.exists_one(g, g.name == f.name))",
         "message": "flow names must be unique"},
    ]})

    mode: ModeField = Mode.AUDIT
    tenant: Annotated[str, Field(max_length=63, pattern=DNS_LABEL_PATTERN)]
    namespace_selector: Annotated[LabelSelector, Field(description="The tenant's namespaces.")]
    zones: Annotated[dict[str, LabelSelector] | None, Field(
        max_length=16, description="Network zones: name -> namespace selector. Only dmz may be exposed.")] = None
    flows: Annotated[list[Flow] | None, Field(max_length=128, description="The flow matrix.")] = None
    forbidden_ports: Annotated[list[Port], Field(max_length=64)] = [22, 3389, 445, 2049]
    cleartext_ports: Annotated[list[Port], Field(max_length=64)] = [21, 23, 80]
    authorized_subjects: Annotated[list[Subject] | None, Field(max_length=256)] = None
    access_grants: Annotated[list[AccessGrant] | None, Field(max_length=256)] = None
    allowed_regions: Annotated[list[Annotated[str, Field(max_length=63)]] | None, Field(max_length=32)] = None

    @model_validator(mode="after")
    def _flows_name_declared_zones(self) -> TenantPolicySpec:
        zones = set(self.zones or {})
        seen: set[str] = set()
        for i, flow in enumerate(self.flows or ()):
            if flow.name in seen:
                raise ValueError(f"flows[{i}].name {flow.name!r} is used twice")
            seen.add(flow.name)
            for end, peer in (("from", flow.from_), ("to", flow.to)):
                if peer.zone is not None and peer.zone not in zones:
                    raise ValueError(f"flows[{i}].{end}.zone {peer.zone!r} is not declared under spec.zones")
        return self


class GrantState(Model):
    subject: str
    cluster_role: str
    expires: str
    state: Annotated[str, Field(description="Active or Expired")]


class TenantPolicyStatus(PolicyStatus):
    namespaces: Annotated[int | None, Field(description="Tenant namespaces selected.")] = None
    tenant_namespaces: Annotated[list[str] | None, Field(description="The first tenant namespaces, sorted.")] = None
    grants: list[GrantState] | None = None
    next_grant_expiry: str | None = None
