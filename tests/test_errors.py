"""kit.errors: messages that a library spreads over several lines are printed as one."""

from kit.errors import KitError, one_line


def test_one_line_joins_the_lines_of_a_message():
    exc = ValueError("while parsing a block mapping\n  in 'x.yaml', line 1\n\nexpected <block end>")
    assert one_line(exc) == "while parsing a block mapping in 'x.yaml', line 1 expected <block end>"
    assert one_line(KitError("a:  b")) == "a:  b"
