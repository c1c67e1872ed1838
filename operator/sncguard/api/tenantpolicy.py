"""TenantPolicy: a tenant's namespaces, network zones and flow matrix, access and location rules."""

from __future__ import annotations

import enum
import ipaddress
from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from .common import DNS_LABEL_PATTERN, LabelSelector, Mode, ModeField, Model, PolicyStatus, WaiversField

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



class Termination(Model):
    """The end of the tenant's contract (R11): the erasure notice is due within 21 days of its end, the
    erasure within 30 days of the notice."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        {"rule": "!has(self.erasureNoticeAt) || (has(self.contractEndedAt) && "
                 "self.erasureNoticeAt >= self.contractEndedAt)",
         "message": "erasureNoticeAt needs contractEndedAt and cannot be before it"},
    ]})

    contract_ended_at: Annotated[datetime | None, Field(
        json_schema_extra={"format": "date-time"},
        description="When the contract ended (RFC 3339); the erasure notice is due 21 days later.")] = None
    erasure_notice_at: Annotated[datetime | None, Field(
        json_schema_extra={"format": "date-time"},
        description="When the erasure notice was given (RFC 3339); the tenant's data must be gone 30 days "
                    "later.")] = None

    @field_validator("contract_ended_at", "erasure_notice_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a time zone (RFC 3339, e.g. 2026-12-31T23:59:59Z)")
        return value

    @model_validator(mode="after")
    def _notice_after_end(self) -> Termination:
        if self.erasure_notice_at is not None:
            if self.contract_ended_at is None:
                raise ValueError("erasureNoticeAt needs contractEndedAt")
            if self.erasure_notice_at < self.contract_ended_at:
                raise ValueError("erasureNoticeAt cannot be before contractEndedAt")
        return self


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
    waivers: WaiversField = None
    termination: Annotated[Termination | None, Field(
        description="The end of the contract (R11); absent while the contract runs.")] = None

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


class ErasureCertificate(Model):
    """Evidence that nothing of the tenant remained once the erasure deadline had passed (R11)."""

    checked_at: Annotated[str, Field(json_schema_extra={"format": "date-time"},
                                     description="When sncguard first found nothing left (RFC 3339).")]
    deadline: Annotated[str, Field(json_schema_extra={"format": "date-time"},
                                   description="The erasure deadline: erasureNoticeAt + 30 days.")]
    namespaces: Annotated[list[str] | None, Field(description="The tenant's namespaces looked for.")] = None
    inventory: Annotated[dict[str, int], Field(description="Each kind checked -> how many remained (0).")]
    digest: Annotated[str, Field(description="SHA-256 (hex) of the canonical JSON (sorted keys) of the "
                                             "other fields and the tenant.")]


class RegisterRole(Model):
    kind: Annotated[str, Field(description="ClusterRole or Role")]
    name: str


class RegisterBinding(Model):
    kind: Annotated[str, Field(description="RoleBinding or ClusterRoleBinding")]
    namespace: Annotated[str | None, Field(description="The RoleBinding's namespace.")] = None
    name: str


class RegisterAccess(Model):
    role: RegisterRole
    binding: RegisterBinding
    namespaces: Annotated[list[str] | Literal["all"], WithJsonSchema({
        "x-kubernetes-preserve-unknown-fields": True,
        "description": 'The tenant namespaces reached: a RoleBinding\'s own, as a list, or "all" for a '
                       'ClusterRoleBinding.'})]
    authorised: Annotated[bool, Field(description="On spec.authorizedSubjects or by an unexpired grant of the "
                                                  "bound ClusterRole.")]


class RegisterGrant(Model):
    reason: str
    expires: Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class AccessRegisterEntry(Model):
    """A subject that can reach the tenant's namespaces (R9, R14), and through what."""

    kind: Annotated[str, Field(description="User, Group or ServiceAccount")]
    name: str
    namespace: Annotated[str | None, Field(description="A ServiceAccount's namespace.")] = None
    authorised: Annotated[bool, Field(description="Every access of the subject is authorised.")]
    access: list[RegisterAccess]
    grant: Annotated[RegisterGrant | None, Field(
        description="The access grant that authorises it (the first to expire, if several do).")] = None


class TenantPolicyStatus(PolicyStatus):
    namespaces: Annotated[int | None, Field(description="Tenant namespaces selected.")] = None
    tenant_namespaces: Annotated[list[str] | None, Field(description="The first tenant namespaces, sorted.")] = None
    grants: list[GrantState] | None = None
    next_grant_expiry: str | None = None
    access_register: Annotated[list[AccessRegisterEntry] | None, Field(description=(
        "Every subject that can reach the tenant's namespaces through RoleBindings there and ClusterRoleBindings, "
        "except the tenant's own service accounts and the platform's identities (authorised implicitly): the "
        "unauthorised first, then by kind, namespace and name; capped."))] = None
    access_register_truncated: Annotated[int | None, Field(
        description="How many subjects of the access register did not fit.")] = None
    access_register_unauthorised: Annotated[int | None, Field(
        description="How many subjects of the whole access register are not authorised.")] = None
    access_register_digest: Annotated[str | None, Field(
        description="SHA-256 (hex) of the canonical JSON of the whole access register, truncated part included.")
    ] = None
    erasure_namespaces: Annotated[list[str] | None, Field(description=(
        "Once termination is declared: every namespace known to be the tenant's, remembered after its "
        "deletion so that its volumes and backups are still looked for (R11)."))] = None
    erasure_certificate: Annotated[ErasureCertificate | None, Field(description=(
        "Past the erasure deadline with none of the tenant's data left: the evidence (R11)."))] = None
