"""TenantSelection: kept up to date change by change, it must say what matching everything afresh says."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from sncguard.selectors import label_selector_matches
from sncguard.tenancy import TenantSelection

TEAMS = ("a", "b", "c")
SELECTORS = [
    {},
    {"matchLabels": {"team": "a"}},
    {"matchLabels": {"team": "b"}},
    {"matchExpressions": [{"key": "team", "operator": "In", "values": ["b", "c"]}]},
    {"matchExpressions": [{"key": "zone", "operator": "Exists"}]},
    {"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["a"]}]},
]


def ns(**labels: str) -> SimpleNamespace:
    return SimpleNamespace(labels=dict(labels))


def afresh(namespaces: dict, selectors: dict) -> dict:
    return {p: sorted(n for n, o in namespaces.items() if label_selector_matches(s, o.labels))
            for p, s in selectors.items()}


def test_a_namespace_selected_by_two_policies_is_each_one_s_and_the_other_s_other():
    selection = TenantSelection()
    namespaces = {"shared": ns(team="a", zone="dmz"), "a-only": ns(team="a"), "b-only": ns(team="b")}
    selection.sync(namespaces, {"alpha": SELECTORS[1], "zoned": SELECTORS[4], "beta": SELECTORS[2]})
    assert selection.namespaces_of("alpha") == ["a-only", "shared"]
    assert selection.others("alpha") == {"b-only"}
    assert selection.others("zoned") == {"a-only", "b-only"}
    assert selection.claimants("shared") == {"alpha", "zoned"}
    assert selection.namespaces_of("nobody") == [] and selection.others("nobody") == {"a-only", "b-only", "shared"}


@pytest.mark.parametrize("seed", range(40))
def test_kept_up_to_date_it_says_what_matching_afresh_says(seed: int):
    rnd = random.Random(seed)
    selection = TenantSelection()
    namespaces: dict = {}
    selectors: dict = {}
    for _ in range(60):
        move = rnd.random()
        if move < 0.3:
            labels = {"team": rnd.choice(TEAMS)}
            if rnd.random() < 0.5:
                labels["zone"] = "dmz"
            namespaces[f"ns-{rnd.randrange(12)}"] = ns(**labels)
        elif move < 0.4 and namespaces:
            del namespaces[rnd.choice(sorted(namespaces))]
        elif move < 0.45 and namespaces:
            # Relabelled in place: the same labels object, changed.
            namespaces[rnd.choice(sorted(namespaces))].labels["team"] = rnd.choice(TEAMS)
        elif move < 0.8:
            selectors[f"tp-{rnd.randrange(5)}"] = rnd.choice(SELECTORS)
        elif selectors:
            del selectors[rnd.choice(sorted(selectors))]
        selection.sync(namespaces, dict(selectors))
        expected = afresh(namespaces, selectors)
        for policy in [*selectors, "absent"]:
            mine = expected.get(policy, [])
            assert selection.namespaces_of(policy) == mine
            claimed = {n for other, names in expected.items() if other != policy for n in names}
            assert selection.others(policy) == claimed - set(mine)
