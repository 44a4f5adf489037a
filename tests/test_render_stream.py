"""The streamed JSON array holds what the one-shot writer's does, one item per line."""

import json

import pytest

from hamon.cli.render import JSON_CHUNK, emit_json, emit_json_stream, emit_json_texts

CASES = [
    [],
    [{"a": 1}],
    [{"msg": "line\nwith newline", "n": [1, 2, {"x": None}]}, {"b": "ünïcode"}, 3, "s"],
]


@pytest.mark.parametrize("items", CASES)
def test_stream_matches_one_shot(items, capsys):
    emit_json(items)
    whole = json.loads(capsys.readouterr().out)
    emit_json_stream(iter(items))
    streamed = capsys.readouterr().out
    assert json.loads(streamed) == whole == items
    lines = streamed.splitlines()
    assert lines[0] == "[" if items else lines == ["[]"]
    assert [json.loads(x.strip().rstrip(",")) for x in lines[1:-1]] == items  # one item per line


def test_stream_consumes_lazily(capsys):
    seen = []

    def gen():
        for i in range(3):
            seen.append(i)
            yield {"i": i}

    emit_json_stream(gen())
    assert seen == [0, 1, 2]
    assert [e["i"] for e in json.loads(capsys.readouterr().out)] == [0, 1, 2]


@pytest.mark.parametrize("n", [JSON_CHUNK - 1, JSON_CHUNK, JSON_CHUNK + 1, 2 * JSON_CHUNK + 3])
def test_texts_written_in_chunks_stay_one_array_one_item_per_line_in_order(n, capsys):
    emit_json_texts(json.dumps({"i": i}) for i in range(n))
    out = capsys.readouterr().out
    assert [x["i"] for x in json.loads(out)] == list(range(n))
    lines = out.splitlines()
    assert lines[0] == "[" and lines[-1] == "]" and len(lines) == n + 2
