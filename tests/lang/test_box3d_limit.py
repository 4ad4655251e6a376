"""Issue 30, item 14: the box3d side limit has one source (scene.node.MAX_SIZE) and the docs state it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import sigmascene
from sigmascene import SigmaError
from sigmascene.data.schema import Box3DRecord
from sigmascene.scene import MAX_SIZE, MIN_SIZE

DOCS = Path(__file__).resolve().parents[2] / "docs" / "language.md"
SCENE = 'sigma 1\ncanvas 64 x 64\nsubject a {{ ref "r.png" box3d {{ center (0, 0, -5) size ({w}, 1, 1) }} }}\n'


def test_item_14_docs_state_the_box3d_limit_the_code_enforces():
    row = next(line for line in DOCS.read_text().splitlines() if line.startswith("| `box3d` sides"))
    low, high = re.findall(r"([\d.,]+) m", row)
    assert float(low) == MIN_SIZE and float(high.replace(",", "")) == MAX_SIZE


@pytest.mark.parametrize("side,ok", [(150_000, True), (MAX_SIZE, True), (MAX_SIZE * 1.01, False)])
def test_item_14_the_parser_the_builder_and_the_dataset_schema_agree(side, ok):
    checks = [
        lambda: sigmascene.loads(SCENE.format(w=side), root=None),
        lambda: sigmascene.Box3D(center=(0, 0, -5), size=(side, 1, 1)),
        lambda: Box3DRecord(center=(0, 0, 5), size=(side, 1, 1)),
    ]
    for check in checks:
        if ok:
            check()
        else:
            with pytest.raises((SigmaError, ValueError), match="200000|200,000"):
                check()
