"""kit.textio: text inputs that are not UTF-8 or not YAML are named in one line."""

import pytest

from kit.errors import KitError
from kit.textio import read_text, read_yaml


def test_non_utf8_text_names_the_file_and_the_byte(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(KitError, match=r"latin1.yaml: not UTF-8 text \(byte 0xe9 at offset 9\)"):
        read_text(path)


def test_yaml_errors_are_one_line_with_line_and_column(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("a: [1, 2\nb: 3\n")
    with pytest.raises(KitError) as info:
        read_yaml(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: not valid YAML (line 2, column 2: expected ',' or ']'")


def test_valid_yaml_is_parsed(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("a: [1, 2]\nb: café\n", encoding="utf-8")
    assert read_yaml(path) == {"a": [1, 2], "b": "café"}
