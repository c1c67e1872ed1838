"""Parts shared by the three resources: mode, label selectors, status conditions and findings."""

from __future__ import annotations

import enum
import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

# Kubernetes label keys: an optional DNS subdomain prefix and a name of at most 63 characters.
LABEL_KEY_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
LABEL_VALUE_PATTERN = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
# Go's time.ParseDuration syntax, the one Velero uses for ttl: "720h", "1h30m", "90s".
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"

_LABEL_KEY_RE = re.compile(LABEL_KEY_PATTERN)
_LABEL_VALUE_RE = re.compile(LABEL_VALUE_PATTERN)


class Model(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid",
                              use_enum_values=False)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Mode(enum.StrEnum):
    AUDIT = "Audit"
    ENFORCE = "Enforce"


ModeField = Annotated[Mode, Field(description="Audit (the default) only reports; Enforce also creates or "
                                              "patches the objects sncguard owns.")]


class SelectorOperator(enum.StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class LabelSelectorRequirement(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [{
        "rule": "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0)"
                " : (!has(self.values) || size(self.values) == 0)",
        "message": "operators In and NotIn need at least one value; Exists and DoesNotExist take none",
    }]})

    key: Annotated[str, Field(max_length=317, pattern=LABEL_KEY_PATTERN)]
    operator: SelectorOperator
    values: Annotated[list[Annotated[str, Field(max_length=63)]] | None, Field(max_length=64)] = None

    @model_validator(mode="after")
    def _values_fit_operator(self) -> LabelSelectorRequirement:
        if self.operator in (SelectorOperator.IN, SelectorOperator.NOT_IN) and not self.values:
            raise ValueError(f"operator {self.operator.value} needs at least one value")
        if self.operator in (SelectorOperator.EXISTS, SelectorOperator.DOES_NOT_EXIST) and self.values:
            raise ValueError(f"operator {self.operator.value} takes no values")
        return self


class LabelSelector(Model):
    """A metav1.LabelSelector: an empty selector selects everything."""

    match_labels: Annotated[dict[str, Annotated[str, Field(max_length=63)]] | None,
                            Field(max_length=64)] = None
    match_expressions: Annotated[list[LabelSelectorRequirement] | None, Field(max_length=32)] = None

    @field_validator("match_labels")
    @classmethod
    def _valid_labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for key, val in (value or {}).items():
            if not _LABEL_KEY_RE.match(key):
                raise ValueError(f"{key!r} is not a valid label key")
            if not _LABEL_VALUE_RE.match(val):
                raise ValueError(f"{val!r} is not a valid label value (for key {key!r})")
        return value

    def as_k8s(self) -> dict[str, Any]:
        return self.dump()


# A rule ID of the catalogue's shape: "ZS-005", "NET-003". Whether the ID exists is judged at
# evaluation (an unknown one is reported), since the catalogue sits above the models.
RULE_ID_PATTERN = r"^[A-Z]{2,5}-[0-9]{3}$"
WAIVERS_MAX = 100


class Waiver(Model):
    """A known risk accepted: the findings of `rule` on the objects it names are `skip` until `until`."""

    rule: Annotated[str, Field(max_length=16, pattern=RULE_ID_PATTERN,
                               description="The rule whose findings are accepted, e.g. ZS-005.")]
    kind: Annotated[str | None, Field(max_length=63, description="The object's kind; absent: any kind.")] = None
    namespace: Annotated[str | None, Field(max_length=63, description="The object's namespace; absent: any.")] = None
    name: Annotated[str | None, Field(max_length=253, description="The object's name; absent: any name.")] = None
    until: Annotated[date, Field(description="The last day (UTC) the waiver holds; the finding fails again "
                                             "the day after.")]
    reason: Annotated[str, Field(min_length=1, max_length=1024, pattern=r"\S",
                                 description="Why the risk is accepted, and by whom.")]


WaiversField = Annotated[list[Waiver] | None, Field(
    max_length=WAIVERS_MAX,
    description="Findings accepted with a reason and an expiry; a waived finding is `skip` until the day after "
                "`until`. Objects may also carry the annotation sncguard.io/waive: \"RULE until YYYY-MM-DD: "
                "reason\" (one per line).")]


class ConditionStatus(enum.StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(Model):
    type: str
    status: ConditionStatus
    reason: str
    message: str = ""
    last_transition_time: str | None = None
    observed_generation: int | None = None


class SummaryCounts(Model):
    pass_: Annotated[int, Field(alias="pass")] = 0
    fail: int = 0
    warn: int = 0
    skip: int = 0


class ResourceEntry(Model):
    kind: str
    namespace: str | None = None
    name: str


class FindingEntry(Model):
    rule: str
    result: Literal["pass", "fail", "warn", "skip"]
    severity: Literal["critical", "high", "medium", "low", "info"]
    resource: ResourceEntry
    field: str | None = None
    message: str


class WaivedEntry(Model):
    rule: str
    resource: ResourceEntry
    until: str
    reason: str
    origin: Literal["annotation", "policy"]


class PolicyStatus(Model):
    """What every policy reports; the kinds add their own fields."""

    model_config = ConfigDict(extra="allow")

    observed_generation: int | None = None
    conditions: list[Condition] | None = None
    summary: SummaryCounts | None = None
    findings: Annotated[list[FindingEntry] | None,
                        Field(description="The most severe findings first, capped.")] = None
    findings_truncated: Annotated[int | None, Field(description="How many findings did not fit.")] = None
    last_evaluated: Annotated[str | None, Field(description="When the status last changed (RFC 3339).")] = None
    enforcement_errors: Annotated[list[str] | None, Field(
        description="What Enforce mode could not apply, and why.")] = None
    waived: Annotated[list[WaivedEntry] | None, Field(
        description="Findings accepted by a waiver (result skip): rule, object, until when and why; capped.")] = None
    waiver_errors: Annotated[list[str] | None, Field(
        description="Waivers that name no rule of the catalogue: ignored, so nothing is waived by them.")] = None
