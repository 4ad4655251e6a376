"""Where a line starts and how it is indented, for the edits that add or remove whole statements.

Where a value or a statement starts and ends comes from the parser: every parsed value and statement carries
its (start, end) character offsets, and lowering keeps them on the node (`Node._spans`), so the editor never
tokenizes the text again.
"""

from __future__ import annotations

import re


def line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def indent_of(text: str, pos: int) -> str:
    s = line_start(text, pos)
    m = re.match(r"[ \t]*", text[s:])
    return m.group(0) if m else ""
