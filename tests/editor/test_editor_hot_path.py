"""What keeps the editor's answer to a drag quick without changing an answer: the cycle collector settled after
imports, and I_S drawn once for as long as a drag hands on the same identity array."""

from __future__ import annotations

import gc
import importlib
import os
import sys
from pathlib import Path


from sigmascene.compiler import compile_scene
from sigmascene.compiler.reuse import CompileReuse
from sigmascene.editor import heap, views
from sigmascene.grammar import load

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_settle_freezes_what_an_import_brought_and_is_free_until_the_next_import(tmp_path, monkeypatch):
    heap.settle()
    assert heap.settle() is False  # nothing imported since: no collection, nothing frozen
    (tmp_path / "sigmascene_settle_probe.py").write_text("TABLE = {k: [k] for k in range(1000)}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = gc.get_freeze_count()
    probe = importlib.import_module("sigmascene_settle_probe")
    try:
        assert heap.settle() is True
        assert gc.get_freeze_count() > before  # the module's objects left the generations collections walk
        assert heap.settle() is False
    finally:
        sys.modules.pop(probe.__name__, None)


def test_i_s_is_drawn_once_while_a_drag_hands_on_the_same_identity_array(monkeypatch):
    scene = load(EXAMPLES / "living_room.sigma")
    reuse = CompileReuse()
    first = compile_scene(scene, reuse=reuse)
    drawn: list[str] = []
    real = views._draw_png
    monkeypatch.setattr(views, "_draw_png", lambda c, name, px: drawn.append(name) or real(c, name, px))
    png = views.map_png(first, "i_s", 173)
    s = scene.subject("armchair")
    s.placement = s.placement.model_copy(update={"x0": s.placement.x0 + 0.01, "x1": s.placement.x1 + 0.01})
    moved = compile_scene(scene, reuse=reuse)
    assert moved.identity is first.identity
    assert views.map_png(moved, "i_s", 173) is png and drawn == ["i_s"]
    fresh = compile_scene(scene)  # equal pixels in another array: drawn again, the same picture
    assert views.map_png(fresh, "i_s", 173) == png and drawn == ["i_s", "i_s"]
    assert views.map_png(moved, "ir_asc", 173) != views.map_png(first, "ir_asc", 173)
