"""Comments belong to statements: each one trails the statement that ends on its line, or leads the next.

`fmt` prints a node's comments where they were, so they are attached to the node (its `_comments` slot for a
statement key) rather than kept as text positions. Lookups use sorted arrays and bisection, so a 5 MB file of
comments attaches in linear-log time.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import NamedTuple

from ..scene import Node


class Anchor(NamedTuple):
    """Where a statement stands in its file and which node/key `fmt` prints it from."""

    file: str
    start: tuple[int, int]  # (line, column) of its first character
    end: tuple[int, int]  # (line, column) just past it
    node: Node
    key: str  # statement key on the node ("" = the node itself, "placement", "camera", ...)


def slot(node: Node, key: str) -> list:
    """[comment lines before the statement, comment at the end of its line]."""
    return node._comments.setdefault(key, [[], None])


def attach_comments(comments: dict[str, list], anchors: list[Anchor], root_file: str, scene: Node) -> None:
    """Give each comment to the statement it trails or the next one it precedes, so `fmt` keeps it."""
    for file, toks in comments.items():
        if not toks:
            continue
        mine = [a for a in anchors if a.file == file]
        by_start = sorted(mine, key=lambda a: a.start)
        starts = [a.start for a in by_start]
        by_end = sorted(mine, key=lambda a: a.end)
        ends = [a.end for a in by_end]
        for c in toks:
            text = str(c).rstrip()
            # The statement ending last on the comment's line, before the comment: the one it trails.
            k = bisect_right(ends, (c.line, c.column)) - 1
            if k >= 0 and ends[k][0] == c.line:
                a = max((b for b in by_end[bisect_left(ends, (c.line, 0)):k + 1]), key=lambda b: b.end)
                s = slot(a.node, a.key)
                s[1] = text if s[1] is None else s[1] + " " + text
                continue
            k = bisect_right(starts, (c.line, c.column))
            if k < len(by_start):
                slot(by_start[k].node, by_start[k].key)[0].append(text)
            elif file == root_file:
                slot(scene, "footer")[0].append(text)
