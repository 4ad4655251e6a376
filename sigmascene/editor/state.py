"""One editor session: the document, its parse (with the same diagnostics as `check`) and its compiled maps."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from collections import OrderedDict
from pathlib import Path
from typing import Any

from ..compiler.compiled import CompiledScene
from ..errors import Diagnostic, SigmaError
from ..grammar import parse_text
from ..compiler.reuse import CompileReuse
from . import heap
from .document import Document, Parsed
from .new_scene import copy_placeholder, with_placeholder
from .security import editor_hints
from .views import scene_json


# One process-wide compile thread: compiles never run side by side (two would only share two cores and the one
# OpenGL context), and a burst of edits queues at most one compile of the newest text behind the running one.
_COMPILER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sigmascene-compile")


class EditorState:
    def __init__(self, path: Path, root: Path | None = None):
        self.path = path.resolve() if path.exists() else path.absolute()
        self.root = (root or self.path.parent).resolve()
        self.file = str(self.path)
        self.doc = Document(self.path, self._parse)
        self._compiled: OrderedDict[str, tuple[CompiledScene | None, list[dict]]] = OrderedDict()
        self.compile_lock = threading.Lock()
        self._schedule_lock = threading.Lock()
        self._waiting: Future | None = None
        self.reuse = CompileReuse()  # a drag moves one subject: the others' rasters and 3D pass carry over
        self.jobs: dict[str, Any] = {}
        self.pipe_cache: dict[Any, Any] = {}  # ModelPlan -> rendering.render.LoadedModel, kept across renders

    def _parse(self, text: str) -> Parsed:
        """Always confined: the grammar's own `root=` refuses every include, ref, mask, depth map and mesh that
        resolves (symlinks followed) outside the editor's folder, before the file is opened — the same check
        `--safe` runs, so the editor has no second one to drift from it."""
        try:
            scene = parse_text(text, file=self.file, base_dir=self.path.parent, root=self.root)
        except SigmaError as err:
            return Parsed(text, None, editor_hints(err.diagnostics))
        return Parsed(text, scene, [])

    def state(self) -> dict[str, Any]:
        p = self.doc.parsed()
        return {"file": self.file, "name": self.path.name, "source": p.text, **self.doc.status(),
                "diagnostics": [diag_json(d, self.file) for d in p.diagnostics],
                "scene": None if p.scene is None else scene_json(p.scene)}

    def precompile(self) -> None:
        """Start compiling the current text now, without waiting: the answer to an edit is written while the
        compile runs, and the page's next GET /api/maps finds it done or under way."""
        self._schedule()

    def _schedule(self) -> Future:
        """At most one compile waits behind the running one, and it compiles the text current when it starts:
        a drag's stream of edits never builds a queue of compiles of texts already replaced."""
        with self._schedule_lock:
            waiting = self._waiting
            if waiting is not None and not waiting.running() and not waiting.done():
                return waiting
            self._waiting = _COMPILER.submit(self._compile_now)
            return self._waiting

    def save(self, force: bool = False) -> None:
        """Save the text; a new scene's placeholder reference is copied beside it first, so `check` accepts it."""
        with self.doc.lock:
            p = self.doc.parsed()
            if self.doc.created:
                copy_placeholder(p.scene, self.root)
            self.doc.save(force)

    def compiled(self) -> tuple[CompiledScene | None, list[dict], int]:
        """Compile the current text (cached by text) on the compile thread. Each call compiles the text current
        when it runs, so a burst of edits costs one compile of the latest text, never one per stale text."""
        return self._schedule().result()

    def _compile_now(self) -> tuple[CompiledScene | None, list[dict], int]:
        from ..compiler import compile_scene

        heap.settle()  # after the imports of the first compile or a lazy import: no full collection mid-drag
        with self.compile_lock:
            p, rev = self.doc.parsed(), self.doc.revision
            hit = self._compiled.get(p.text)
            if hit is None:
                if p.scene is None:
                    hit = (None, [diag_json(d, self.file) for d in p.diagnostics])
                else:
                    scene = with_placeholder(p.scene) if self.doc.created else p.scene
                    try:
                        hit = (compile_scene(scene, reuse=self.reuse), [])
                    except SigmaError as err:
                        hit = (None, [diag_json(d, self.file) for d in err.diagnostics])
                self._compiled[p.text] = hit
                while len(self._compiled) > 4:
                    self._compiled.popitem(last=False)
            return hit[0], hit[1], rev


def diag_json(d: Diagnostic, root_file: str) -> dict:
    """`check --json`'s fields, plus the formatted text `check` prints and whether it points into this file."""
    out = d.to_json()
    out["text"] = d.format()
    out["in_this_file"] = d.loc is not None and str(Path(d.loc.file).resolve()) == root_file
    return out
