"""Label and node selector semantics (sncguard.selectors), as the API server and scheduler apply them."""

from __future__ import annotations

import pytest

from sncguard.selectors import (
    is_empty_selector,
    label_selector_matches,
    node_admits,
    node_selector_term_matches,
)

LABELS = {"app": "web", "tier": "front", "version": "3"}


def expr(key: str, operator: str, *values: str) -> dict:
    out: dict = {"key": key, "operator": operator}
    if values:
        out["values"] = list(values)
    return out


class TestLabelSelector:
    def test_none_matches_nothing(self):
        assert label_selector_matches(None, LABELS) is False
        assert label_selector_matches(None, {}) is False

    @pytest.mark.parametrize("selector", [{}, {"matchLabels": {}}, {"matchExpressions": []},
                                          {"matchLabels": None, "matchExpressions": None}])
    def test_empty_matches_everything(self, selector):
        assert label_selector_matches(selector, LABELS) is True
        assert label_selector_matches(selector, {}) is True

    def test_match_labels_all_must_hold(self):
        assert label_selector_matches({"matchLabels": {"app": "web"}}, LABELS) is True
        assert label_selector_matches({"matchLabels": {"app": "web", "tier": "front"}}, LABELS) is True
        assert label_selector_matches({"matchLabels": {"app": "web", "tier": "back"}}, LABELS) is False
        assert label_selector_matches({"matchLabels": {"missing": "x"}}, LABELS) is False

    def test_match_labels_value_is_compared_exactly(self):
        assert label_selector_matches({"matchLabels": {"app": "Web"}}, LABELS) is False
        assert label_selector_matches({"matchLabels": {"app": ""}}, {"app": ""}) is True
        assert label_selector_matches({"matchLabels": {"app": ""}}, {}) is False

    @pytest.mark.parametrize(("requirement", "expected"), [
        (expr("app", "In", "web", "api"), True),
        (expr("app", "In", "api"), False),
        (expr("missing", "In", "web"), False),
        (expr("app", "NotIn", "api"), True),
        (expr("app", "NotIn", "web"), False),
        (expr("missing", "NotIn", "web"), True),   # NotIn holds when the key is absent
        (expr("app", "Exists"), True),
        (expr("missing", "Exists"), False),
        (expr("app", "DoesNotExist"), False),
        (expr("missing", "DoesNotExist"), True),
    ])
    def test_match_expressions(self, requirement, expected):
        assert label_selector_matches({"matchExpressions": [requirement]}, LABELS) is expected

    def test_in_without_values_matches_nothing(self):
        selector = {"matchExpressions": [{"key": "app", "operator": "In"}]}
        assert label_selector_matches(selector, LABELS) is False

    def test_expressions_are_anded_with_each_other_and_with_match_labels(self):
        both = {"matchLabels": {"app": "web"}, "matchExpressions": [expr("tier", "In", "front")]}
        assert label_selector_matches(both, LABELS) is True
        labels_fail = {"matchLabels": {"app": "api"}, "matchExpressions": [expr("tier", "In", "front")]}
        assert label_selector_matches(labels_fail, LABELS) is False
        expression_fail = {"matchLabels": {"app": "web"},
                           "matchExpressions": [expr("tier", "In", "front"), expr("app", "NotIn", "web")]}
        assert label_selector_matches(expression_fail, LABELS) is False

    def test_unknown_operator_is_refused(self):
        with pytest.raises(ValueError, match="Bogus"):
            label_selector_matches({"matchExpressions": [expr("app", "Bogus", "web")]}, LABELS)


class TestIsEmptySelector:
    @pytest.mark.parametrize(("selector", "expected"), [
        (None, False),
        ({}, True),
        ({"matchLabels": {}}, True),
        ({"matchExpressions": []}, True),
        ({"matchLabels": {"a": "b"}}, False),
        ({"matchExpressions": [expr("a", "Exists")]}, False),
    ])
    def test_cases(self, selector, expected):
        assert is_empty_selector(selector) is expected


NODE_LABELS = {"topology.kubernetes.io/zone": "zone-a", "kubernetes.io/hostname": "node-a1", "cpus": "16"}


class TestNodeSelectorTerm:
    def test_empty_term_matches_nothing(self):
        assert node_selector_term_matches({}, "node-a1", NODE_LABELS) is False
        assert node_selector_term_matches({"matchExpressions": [], "matchFields": []}, "node-a1",
                                          NODE_LABELS) is False

    def test_expressions_are_anded(self):
        term = {"matchExpressions": [expr("topology.kubernetes.io/zone", "In", "zone-a"),
                                     expr("kubernetes.io/hostname", "NotIn", "node-a2")]}
        assert node_selector_term_matches(term, "node-a1", NODE_LABELS) is True
        term["matchExpressions"].append(expr("gpu", "Exists"))
        assert node_selector_term_matches(term, "node-a1", NODE_LABELS) is False

    def test_match_fields_compare_the_node_name(self):
        assert node_selector_term_matches({"matchFields": [expr("metadata.name", "In", "node-a1")]},
                                          "node-a1", NODE_LABELS) is True
        assert node_selector_term_matches({"matchFields": [expr("metadata.name", "In", "node-b1")]},
                                          "node-a1", NODE_LABELS) is False
        assert node_selector_term_matches({"matchFields": [expr("metadata.name", "NotIn", "node-b1")]},
                                          "node-a1", NODE_LABELS) is True

    def test_fields_and_expressions_are_anded(self):
        term = {"matchExpressions": [expr("topology.kubernetes.io/zone", "In", "zone-a")],
                "matchFields": [expr("metadata.name", "In", "node-a2")]}
        assert node_selector_term_matches(term, "node-a1", NODE_LABELS) is False
        assert node_selector_term_matches(term, "node-a2", NODE_LABELS) is True

    @pytest.mark.parametrize(("operator", "value", "expected"), [
        ("Gt", "8", True),
        ("Gt", "16", False),
        ("Gt", "32", False),
        ("Lt", "32", True),
        ("Lt", "16", False),
        ("Gt", "+8", True),      # Go's ParseInt takes a sign
        ("Gt", "-1", True),
        ("Gt", "eight", False),  # a non-integer value never matches
        ("Gt", "1_0", False),    # Python's int() would read 10; Go's ParseInt refuses it
    ])
    def test_gt_lt(self, operator, value, expected):
        term = {"matchExpressions": [expr("cpus", operator, value)]}
        assert node_selector_term_matches(term, "node-a1", NODE_LABELS) is expected

    @pytest.mark.parametrize("label", ["1_6", " 16", "16 ", "١٦", "99999999999999999999", "", "16.0"])
    def test_gt_lt_label_must_be_a_go_int64(self, label):
        # Go's strconv.ParseInt(s, 10, 64) refuses all of these, so the scheduler never matches them.
        for operator, value in (("Gt", "-100"), ("Lt", "100")):
            term = {"matchExpressions": [expr("cpus", operator, value)]}
            assert node_selector_term_matches(term, "n", {"cpus": label}) is False

    def test_gt_lt_at_the_int64_bounds(self):
        assert node_selector_term_matches({"matchExpressions": [expr("n", "Gt", "0")]}, "n",
                                          {"n": str(2**63 - 1)}) is True
        assert node_selector_term_matches({"matchExpressions": [expr("n", "Gt", "0")]}, "n",
                                          {"n": str(2**63)}) is False
        assert node_selector_term_matches({"matchExpressions": [expr("n", "Lt", "0")]}, "n",
                                          {"n": str(-(2**63))}) is True

    def test_gt_without_label_or_value_never_matches(self):
        assert node_selector_term_matches({"matchExpressions": [expr("gpus", "Gt", "0")]}, "n",
                                          NODE_LABELS) is False
        assert node_selector_term_matches({"matchExpressions": [{"key": "cpus", "operator": "Gt"}]}, "n",
                                          NODE_LABELS) is False


def required(*terms: dict) -> dict:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": list(terms)}}}


class TestNodeAdmits:
    def test_no_constraint_admits(self):
        assert node_admits("node-a1", NODE_LABELS, None, None) is True
        assert node_admits("node-a1", NODE_LABELS, {}, {}) is True

    def test_node_selector_all_pairs_must_hold(self):
        assert node_admits("node-a1", NODE_LABELS, {"topology.kubernetes.io/zone": "zone-a"}, None) is True
        assert node_admits("node-a1", NODE_LABELS, {"topology.kubernetes.io/zone": "zone-b"}, None) is False
        assert node_admits("node-a1", NODE_LABELS,
                           {"topology.kubernetes.io/zone": "zone-a", "disk": "ssd"}, None) is False

    def test_node_affinity_terms_are_ored(self):
        zone_b = {"matchExpressions": [expr("topology.kubernetes.io/zone", "In", "zone-b")]}
        zone_a = {"matchExpressions": [expr("topology.kubernetes.io/zone", "In", "zone-a")]}
        assert node_admits("node-a1", NODE_LABELS, None, required(zone_b)) is False
        assert node_admits("node-a1", NODE_LABELS, None, required(zone_b, zone_a)) is True

    def test_node_selector_and_affinity_are_anded(self):
        zone_a = {"matchExpressions": [expr("topology.kubernetes.io/zone", "In", "zone-a")]}
        assert node_admits("node-a1", NODE_LABELS, {"disk": "ssd"}, required(zone_a)) is False
        assert node_admits("node-a1", NODE_LABELS, {"cpus": "16"}, required(zone_a)) is True

    def test_only_required_node_affinity_counts(self):
        preferred = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 1,
             "preference": {"matchExpressions": [expr("topology.kubernetes.io/zone", "In", "zone-b")]}}
        ]}}
        assert node_admits("node-a1", NODE_LABELS, None, preferred) is True
        pod_affinity_only = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": []}}
        assert node_admits("node-a1", NODE_LABELS, None, pod_affinity_only) is True

    def test_empty_term_list_admits_nothing(self):
        assert node_admits("node-a1", NODE_LABELS, None, required()) is False

    def test_an_empty_term_does_not_admit_but_another_term_may(self):
        zone_a = {"matchExpressions": [expr("topology.kubernetes.io/zone", "In", "zone-a")]}
        assert node_admits("node-a1", NODE_LABELS, None, required({})) is False
        assert node_admits("node-a1", NODE_LABELS, None, required({}, zone_a)) is True

    def test_match_fields_by_node_name(self):
        by_name = {"matchFields": [expr("metadata.name", "In", "node-b1")]}
        assert node_admits("node-a1", NODE_LABELS, None, required(by_name)) is False
        assert node_admits("node-b1", NODE_LABELS, None, required(by_name)) is True
