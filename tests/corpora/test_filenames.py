from __future__ import annotations

import pytest

from corpora.filenames import ascii_header_name, base_name, display_name, printable


def test_printable_drops_control_characters_and_surrounding_space():
    assert printable("  a\x00b\tc\u200bd\n ") == "abcd"


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("holiday/beach.jpg", "beach.jpg"),
        ("C:\\Users\\me\\cat.png", "cat.png"),
        ("bad\x07name.png", "badname.png"),
        ("folder/", "unnamed"),
        ("", "unnamed"),
        ("x" * 300 + ".png", "x" * 255),
    ],
)
def test_display_name(given, shown):
    assert display_name(given) == shown


def test_base_name_may_be_empty_for_the_caller_to_decide():
    assert base_name("a/b/..") == ".." and base_name("a/") == ""


def test_ascii_header_name_cannot_break_out_of_the_quoted_header():
    assert ascii_header_name('ké"\\\r\n.png') == "k_____.png"
