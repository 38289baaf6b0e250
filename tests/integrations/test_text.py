"""Text from other systems, made storable: PostgreSQL refuses NUL in text and JSON columns."""

from integrations.text import printable, storable


def test_printable_drops_control_characters_but_keeps_lines_and_swedish():
    text = "Åsa\x00 Öberg\x1b[31m\tSkåne\r\nrad två\x7f\x9b"

    assert printable(text) == "Åsa Öberg[31m\tSkåne\r\nrad två"
    assert printable(text, max_length=3) == "Åsa"


def test_storable_removes_nul_at_any_depth_and_in_keys():
    value = {"a\x00": ["x\x00y", {"b": "\x00"}], "n": 1, "none": None, "ok": "Ärtsoppa\x1b"}

    assert storable(value) == {"a": ["xy", {"b": ""}], "n": 1, "none": None, "ok": "Ärtsoppa\x1b"}
