"""Team names: which a leaderboard accepts, how it stores them and when two are the same team.

Names come from participants and are shown to everyone (terminal, Markdown, CSV, HTML), so a
name must look like what it is:

- It is stored and shown in Unicode NFKC form (full-width "ＡＢ" becomes "AB").
- Two names are the same team when their NFKC + casefold forms are equal ("ÄRKTIS", "ärktis",
  "ＡＲＫＴＩＳ"), as ASCII names always were. `team_key` computes it from the stored name, so
  names in databases written before these rules keep working.
- 1-40 characters as a reader counts them (extended grapheme clusters: "👩‍🔬" is one) and at
  most 40 terminal columns (a wide CJK character or emoji takes two).
- Refused: control, format (bidirectional overrides, zero-width spaces...), private-use,
  unassigned and surrogate code points, line/paragraph separators, and blank-looking
  characters: any whitespace but single spaces between words, U+2800 BRAILLE PATTERN BLANK,
  the Hangul fillers and other default-ignorable characters. Zero-width (non-)joiners are kept
  between two visible characters (emoji sequences, Persian, Indic scripts), variation selectors
  inside a character and tag characters only in an emoji flag (U+1F3F4 + tags).
- Refused: a combining mark without a base character (so a name made only of marks), more
  than 3 non-spacing marks on one character, and one character of more than 10 code points
  (the longest emoji sequences have 10), so no name overflows the rows around it.

A refused name is shown in the message shortened to 40 code points with invisible characters
escaped (`shown`).
"""

from __future__ import annotations

import unicodedata
from typing import NoReturn

from scoring.errors import ScoringError

MAX_GRAPHEMES = 40
MAX_COLUMNS = 40
#: Non-spacing marks stacked on one character (Vietnamese needs 2, pointed Hebrew 3).
MAX_MARKS = 3
#: Code points in one character (grapheme cluster): the longest emoji ZWJ sequences have 10.
MAX_CLUSTER = 10
#: Longer input is refused before it is normalised or segmented.
MAX_INPUT = MAX_GRAPHEMES * MAX_CLUSTER
#: Code points of a refused name quoted in its error message.
SHOWN_MAX = 40

SPACE = " "
ZWNJ, ZWJ = "\u200c", "\u200d"
JOINERS = frozenset({ZWNJ, ZWJ})
BLACK_FLAG = "\U0001f3f4"
#: Blank-looking or invisible characters that Unicode counts as letters, symbols or marks.
BLANKS = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0\U00016fe4"
)  # CGJ, Hangul fillers, Khmer inherent vowels, Braille blank, Khitan filler


def team_key(name: str) -> str:
    """The identity of a team name: NFKC, casefolded, NFKC again (Unicode's NFKC_Casefold)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def check_team_name(name: str) -> str:
    """The name in NFKC form if it is a valid team name (module docstring); else ScoringError."""
    if not isinstance(name, str):
        raise ScoringError(f"team name: must be text, not {type(name).__name__}")
    if not name:
        raise ScoringError("team name '': must not be empty")
    if len(name) > MAX_INPUT:
        _refuse(name, f"too long; at most {MAX_GRAPHEMES} characters")
    normal = unicodedata.normalize("NFKC", name)
    for text in dict.fromkeys((name, normal)):  # as typed, and as it would be stored
        _check_code_points(name, text)
    _check_graphemes(name, normal)
    return normal


def shown(name: str) -> str:
    """`name` quoted for a message: invisible characters escaped, cut after 40 code points."""
    text = "'" + "".join(_escaped(c) for c in name[:SHOWN_MAX]) + "'"
    return text if len(name) <= SHOWN_MAX else f"{text}… ({len(name)} code points)"


def _escaped(char: str) -> str:
    if char in "\\'":
        return "\\" + char
    if _visible(char):
        return char
    return ascii(char)[1:-1]


def _visible(char: str) -> bool:
    """Shown as itself in messages: printable, not blank-looking, not a combining mark."""
    category = unicodedata.category(char)
    return char.isprintable() and char not in BLANKS and category not in ("Mn", "Me")


def _refuse(name: str, problem: str) -> NoReturn:
    raise ScoringError(f"team name {shown(name)}: {problem}")


def _check_code_points(name: str, text: str) -> None:
    """Refuse the first code point of `text` that is never allowed in a team name."""
    for char in text:
        reason = _refused(char)
        if reason:
            _refuse(name, f"{_described(char)} is {reason}")


def _refused(char: str) -> str | None:
    """Why a code point is refused wherever it appears, or None."""
    category = unicodedata.category(char)
    if char == SPACE or char in JOINERS or _is_variation_selector(char) or _is_tag(char):
        return None  # allowed in places only: `_check_graphemes`
    if category == "Cc":
        return "a control character"
    if category == "Cs":
        return "a lone surrogate (the name is not valid UTF-8)"
    if category == "Co":
        return "a private-use character"
    if category == "Cn":
        return f"not assigned in Unicode {unicodedata.unidata_version}"
    if category in ("Zl", "Zp"):
        return "a line or paragraph separator"
    if char.isspace() or char in BLANKS:
        return "blank-looking (only single spaces between words are allowed)"
    if category == "Cf":
        return "an invisible formatting character"
    return None


def _check_graphemes(name: str, text: str) -> None:
    """Refuse misplaced spaces, joiners and marks, and too many characters or columns."""
    from wcwidth import iter_graphemes, wcswidth  # here: Codabench's scoring never checks names

    clusters = list(iter_graphemes(text))
    if len(clusters) > MAX_GRAPHEMES:
        _refuse(name, f"{len(clusters)} characters; at most {MAX_GRAPHEMES}")
    if clusters[0] == SPACE or clusters[-1] == SPACE or SPACE * 2 in text:
        _refuse(name, "only single spaces between words are allowed")
    if not _invisible_in_place(text):
        _refuse(name, "a zero-width joiner or variation selector out of place")
    columns = 0
    for i, cluster in enumerate(clusters):
        width = wcswidth(cluster)
        problem = _cluster_problem(cluster) or (None if width > 0 else "is invisible")
        if problem:
            _refuse(name, f"character {i + 1} ({_code_points(cluster)}) {problem}")
        columns += width
    if columns > MAX_COLUMNS:
        _refuse(name, f"{columns} columns wide; at most {MAX_COLUMNS}")


def _invisible_in_place(text: str) -> bool:
    """Every ZWJ/ZWNJ stands between two visible characters, every variation selector follows a
    visible one (emoji sequences such as "❤️‍🔥": heart, VS16, ZWJ, fire)."""
    for j, char in enumerate(text):
        before = text[j - 1] if j else SPACE
        after = text[j + 1] if j + 1 < len(text) else SPACE
        if char in JOINERS and (before in JOINERS or before == SPACE or _invisible(after)):
            return False
        if _is_variation_selector(char) and (_invisible(before) or before in JOINERS):
            return False
    return True


def _invisible(char: str) -> bool:
    return char == SPACE or char in JOINERS or _is_variation_selector(char)


def _cluster_problem(cluster: str) -> str | None:
    """What is wrong with one grapheme cluster, or None."""
    first = cluster[0]
    if first in JOINERS or _is_variation_selector(first) or _is_tag(first):
        return "starts with an invisible joiner or selector"
    if unicodedata.category(first).startswith("M"):
        return "is a combining mark without a base character"
    if first == SPACE and len(cluster) > 1:
        return "is a combining mark on a space"
    if len(cluster) > MAX_CLUSTER:
        return f"has {len(cluster)} code points; at most {MAX_CLUSTER}"
    marks = sum(
        unicodedata.category(c) in ("Mn", "Me") and not _is_variation_selector(c)
        for c in unicodedata.normalize("NFD", cluster)  # "ế" is e + 2 marks
    )
    if marks > MAX_MARKS:
        return f"has {marks} combining marks; at most {MAX_MARKS}"
    if first != BLACK_FLAG and any(_is_tag(c) for c in cluster):
        return "has invisible tag characters outside an emoji flag"
    return None


def _is_variation_selector(char: str) -> bool:
    code = ord(char)
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF or 0x180B <= code <= 0x180F


def _is_tag(char: str) -> bool:
    return 0xE0020 <= ord(char) <= 0xE007F


def _described(char: str) -> str:
    """'U+2800 BRAILLE PATTERN BLANK' ('U+0009' where a code point has no name)."""
    return f"U+{ord(char):04X} {unicodedata.name(char, '')}".rstrip()


def _code_points(cluster: str) -> str:
    points = " ".join(f"U+{ord(c):04X}" for c in cluster[: MAX_CLUSTER + 1])
    return points if len(cluster) <= MAX_CLUSTER + 1 else points + " …"
