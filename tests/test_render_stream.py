"""The streamed JSON array is the same document the one-shot writer produces."""

import json

import pytest

from hamon.cli.render import emit_json, emit_json_stream

CASES = [
    [],
    [{"a": 1}],
    [{"msg": "line\nwith newline", "n": [1, 2, {"x": None}]}, {"b": "ünïcode"}, 3, "s"],
]


@pytest.mark.parametrize("items", CASES)
def test_stream_matches_one_shot(items, capsys):
    emit_json(items)
    whole = capsys.readouterr().out
    emit_json_stream(iter(items))
    streamed = capsys.readouterr().out
    assert streamed == whole
    assert json.loads(streamed) == items


def test_stream_consumes_lazily(capsys):
    seen = []

    def gen():
        for i in range(3):
            seen.append(i)
            yield {"i": i}

    emit_json_stream(gen())
    assert seen == [0, 1, 2]
    assert [e["i"] for e in json.loads(capsys.readouterr().out)] == [0, 1, 2]
