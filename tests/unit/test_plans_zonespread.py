"""Enforce mode for ZoneSpread: the field manager each policy applies under."""

from sncguard.plans.zonespread import MAX_FIELD_MANAGER, field_manager


def test_each_zonespread_applies_under_a_manager_of_its_own():
    assert field_manager("shop", "sla") == "sncguard/zonespread/shop/sla"
    assert field_manager("shop", "sla") != field_manager("shop", "hosts")
    assert field_manager("shop", "sla") != field_manager("web", "sla")


def test_a_long_name_still_gives_a_distinct_manager_the_api_server_accepts():
    long_a, long_b = "a" * 200 + "x", "a" * 200 + "y"
    for name in (long_a, long_b):
        assert len(field_manager("n" * 63, name)) <= MAX_FIELD_MANAGER
    assert field_manager("n" * 63, long_a) != field_manager("n" * 63, long_b)
