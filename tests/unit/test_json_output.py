"""`check --output json` is json.dumps(findings, ensure_ascii=False, indent=2), whatever encodes it."""

from __future__ import annotations

import json

import pytest

from sncguard.check import indented_json

TRICKY = [
    "plain", "", "accents: é à ç ; CJK 漢字 ; emoji 🛡", "quotes \" and \\ backslash", "slash / stays",
    "controls \x00 \x01 \x08 \x0c \n \r \t \x1f \x7f", "line\u2028separator\u2029", "tab\tand\nnewline",
]


@pytest.mark.parametrize("value", [
    [],
    {},
    [{"rule": "NET-003", "line": 12, "waived": False, "field": None, "nested": {"list": [1, -2, 0], "empty": {}}}],
    [{"message": text, text or "k": [text]} for text in TRICKY],
    {"big": 2**63 - 1, "negative": -(2**63)},
])
def test_it_writes_what_json_dumps_writes(value):
    assert indented_json(value) == json.dumps(value, ensure_ascii=False, indent=2)


@pytest.mark.parametrize("value", [
    {1: "a key that is not a string"},
    ["a lone surrogate \ud800"],
    [2**70],
])
def test_what_orjson_refuses_is_written_by_json_dumps(value):
    assert indented_json(value) == json.dumps(value, ensure_ascii=False, indent=2)
