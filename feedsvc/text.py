"""Plain-text rules every field follows: only characters XML allows, one line, cut to a length.

Standard library only, so that every module (config included) can apply them where text enters.
"""

from __future__ import annotations

import re
import unicodedata

# Characters XML 1.0 forbids (tab, newline and carriage return are allowed).
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_WHITESPACE = re.compile(r"\s+")
# Control characters that neither XML nor YAML allows (tab, LF and CR stay): they are
# removed from front matter before YAML reads it and from bodies before they render.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")


def remove_controls(text: str) -> str:
    """Remove the control characters neither XML nor YAML allows (tab, newline and carriage return stay)."""
    return _CONTROL.sub("", text)


def count_controls(text: str) -> int:
    """Count the characters `remove_controls` would remove."""
    if _CONTROL.search(text) is None:  # the usual case, in one pass without a list
        return 0
    return len(_CONTROL.findall(text))


def xml_safe(text: str) -> str:
    """Remove the characters XML forbids; keep tab, newline and carriage return."""
    return _XML_INVALID.sub("", text)


def one_line(text: str) -> str:
    """Collapse every run of white space to one space and trim the ends."""
    return _WHITESPACE.sub(" ", xml_safe(text)).strip()


def _is_wide(char: str) -> bool:
    """Tell whether a character is East Asian wide (CJK, kana, hangul), written without spaces."""
    return unicodedata.east_asian_width(char) in ("W", "F")


def _in_spaced_word(char: str) -> bool:
    """Tell whether a character is part of a word in a script that separates words by spaces."""
    # Not isascii(): "Straße" and "café" are Latin words too and must not be split.
    return char.isalnum() and not _is_wide(char)


# The ends of a CJK sentence (full stop, exclamation and question marks, semicolon), and the
# closing quotes and brackets that may follow one.
_SENTENCE_ENDS = frozenset("。！？；")
_CLOSERS = frozenset("”’」』）》】〉)\"'")


def _sentence_end(cut: str, limit: int) -> int:
    """Return where the last CJK sentence of `cut` ends when that falls in the last fifth of `limit`, else 0."""
    earliest = limit - limit // 5
    for index in range(len(cut) - 1, earliest - 2, -1):
        if cut[index] in _SENTENCE_ENDS:
            end = index + 1
            while end < len(cut) and cut[end] in _CLOSERS:
                end += 1
            return end if end >= earliest else 0
    return 0


def shorten(text: str, limit: int) -> str:
    """Cut text to at most `limit` characters, the last being '…' when it was cut.

    Latin words are not split when a space is near; CJK text is cut after a sentence
    (。！？；) when one ends in the last fifth of the limit, else anywhere. A text cut
    after a sentence still ends in '…': it says there is more.
    """
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    sentence = _sentence_end(cut, limit)
    if sentence:
        return cut[:sentence] + "…"
    if _in_spaced_word(text[limit - 1]) and cut[-1:] and not cut[-1].isspace() and not _is_wide(cut[-1]):
        space = cut.rfind(" ", max(0, len(cut) - 20))
        if space > 0:
            cut = cut[:space]
    return cut.rstrip() + "…"
