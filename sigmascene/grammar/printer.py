"""Scene -> canonical `.sigma` text, and `fmt`.

Canonical means: fixed statement order (header, params, then includes and subjects as they came), four-space
indents, one blank line between blocks, one placement per line. Within that, a value is printed the way the user
spelt it (`$rug_x`, `51 px`, `0.5 rad`, `1.0`) as long as it still means the current value, and comments stay with
the statement they belong to — so `fmt` tidies a file without rewriting what the user chose to write.
"""

from __future__ import annotations

import json
from typing import Any

from ..scene import KINDS, Camera, Node, Scene, Subject

INDENT = "    "


def print_scene(scene: Scene) -> str:
    return _Printer(scene).run()


def number(x: float) -> str:
    """Shortest text that reads back as the same float: integers without a dot, others by repr."""
    if float(x).is_integer() and abs(x) < 1e16:
        return str(int(x))
    return repr(float(x))


class _Printer:
    def __init__(self, scene: Scene):
        self.scene = scene
        self.file = scene._file
        self.from_text = scene._file is not None

    def own(self, node: Node | None) -> bool:
        return node is not None and node.loc is not None and node.loc.file == self.file

    def written(self, key: str) -> bool:
        loc = self.scene._locs.get(key)
        return loc is not None and loc.file == self.file

    # -- pieces ---------------------------------------------------------------------------------------------
    def val(self, node: Node, key: str, value: float, unit: str | None = None) -> str:
        src = node._src.get(key)
        if src is not None and src[1] == value:
            return src[0]
        return number(value) + (f" {unit}" if unit else "")

    def vec(self, node: Node, key: str, values: Any, unit: str | None = None) -> str:
        return "(" + ", ".join(self.val(node, f"{key}.{i}", v, unit) for i, v in enumerate(values)) + ")"

    def string(self, node: Node, key: str, value: str) -> str:
        src = node._src.get(key)
        if src is not None and src[1] == value:
            return src[0]
        return json.dumps(value, ensure_ascii=False)

    def line(self, out: list[str], depth: int, text: str, node: Node, key: str, trail: bool = True) -> None:
        leading, trailing = node._comments.get(key, [[], None])
        out += [INDENT * depth + c for c in leading]
        out.append(INDENT * depth + text + (f"  {trailing}" if trailing and trail else ""))

    def close(self, out: list[str], node: Node, key: str) -> None:
        """A block's closing brace carries the comment that trailed the block: a statement's end is where a
        trailing comment is found again on the next run, so `fmt` stays idempotent for one-line blocks."""
        trailing = node._comments.get(key, [[], None])[1]
        out.append("}" + (f"  {trailing}" if trailing else ""))

    # -- the file -------------------------------------------------------------------------------------------
    def run(self) -> str:
        s = self.scene
        blocks: list[list[str]] = []
        head: list[str] = []
        if self.written("version") or not self.from_text:
            self.line(head, 0, f"sigma {s.version}", s, "version")
        if self.own(s.canvas) or (not self.from_text and (s.background is None or "canvas" in s.model_fields_set)):
            self.line(head, 0, f"canvas {self.val(s.canvas, 'width', s.canvas.width)} x "
                               f"{self.val(s.canvas, 'height', s.canvas.height)}", s, "canvas")
        bg = s.background
        if bg is not None and (self.own(bg) or not self.from_text):
            self.line(head, 0, f"background {self.string(bg, 'path', bg.path)}", bg, "")
            if bg.depth is not None:
                self.line(head, 0, f"background_depth {self.string(bg, 'depth', bg.depth)}", bg, "depth")
        if self.written("seed") or (not self.from_text and s.seed != 0):
            self.line(head, 0, f"seed {self.val(s, 'seed', s.seed)}", s, "seed")
        if self.written("prompt") or (not self.from_text and s.prompt):
            self.line(head, 0, f"prompt {self.string(s, 'prompt', s.prompt)}", s, "prompt")
        if self.written("compose") or (not self.from_text and s.compose is not None):
            self.line(head, 0, f"compose {self.string(s, 'compose', s.compose or '')}", s, "compose")
        if self.written("instruction") or (not self.from_text and s.instruction is not None):
            self.line(head, 0, f"instruction {self.string(s, 'instruction', s.instruction or '')}", s,
                      "instruction")
        if self.own(s.camera) or (not self.from_text and s.camera != Camera()):
            self.camera(head, s.camera)
        for p in s.params:
            if self.own(p) or not self.from_text:
                self.param(head, p)
        if head:
            blocks.append(head)
        includes = [i for i in s.includes if self.own(i) or not self.from_text]
        for idx, subj in enumerate(s.subjects + [None]):
            here = [i for i in includes if i.position == idx]
            if here:
                inc: list[str] = []
                for i in here:
                    self.line(inc, 0, f"include {self.string(i, 'path', i.path)}", i, "")
                blocks.append(inc)
            if subj is not None and (self.own(subj) or not self.from_text):
                blocks.append(self.subject(subj))
        footer = s._comments.get("footer", [[], None])[0]
        if footer:
            blocks.append(list(footer))
        return "\n\n".join("\n".join(b) for b in blocks) + "\n"

    def camera(self, out: list[str], cam: Camera) -> None:
        self.line(out, 0, "camera {", self.scene, "camera", trail=False)
        default = Camera()
        if "position" in cam._src or "position.0" in cam._src or cam.position != default.position:
            self.line(out, 1, f"position {self.vec(cam, 'position', cam.position)}", cam, "position")
        if cam.look_at is not None:
            self.line(out, 1, f"look_at {self.vec(cam, 'look_at', cam.look_at)}", cam, "look_at")
        if "fov" in cam._src or cam.fov != default.fov:
            self.line(out, 1, f"fov {self.val(cam, 'fov', cam.fov, 'deg')}", cam, "fov")
        self.close(out, self.scene, "camera")

    def param(self, out: list[str], p: Any) -> None:
        src = p._src.get("value")
        if src is not None and src[1] == p.value:
            text = src[0]
        elif isinstance(p.value, str):
            text = json.dumps(p.value, ensure_ascii=False)
        else:
            text = number(p.value) + (f" {p.unit}" if p.unit else "")
        self.line(out, 0, f"param {p.name} = {text}", p, "")

    # -- subjects -------------------------------------------------------------------------------------------
    def subject(self, subj: Subject) -> list[str]:
        out: list[str] = []
        self.line(out, 0, f"subject {subj.name} {{", subj, "", trail=False)
        self.line(out, 1, f"ref {self.string(subj, 'ref', subj.ref)}", subj, "ref")
        if subj.caption is not None:
            self.line(out, 1, f"caption {self.string(subj, 'caption', subj.caption)}", subj, "caption")
        if subj.matte is not None:
            self.line(out, 1, f"matte {self.string(subj, 'matte', subj.matte)}", subj, "matte")
        self.line(out, 1, self.placement(subj.placement), subj, "placement")
        if subj.depth is not None:
            self.line(out, 1, f"depth {self.val(subj, 'depth', subj.depth)}", subj, "depth")
        if subj.depth_map is not None:
            self.line(out, 1, f"depth_map {self.string(subj, 'depth_map', subj.depth_map)}", subj, "depth_map")
        for r in subj.relations:
            self.line(out, 1, f"{r.kind} {r.target}", r, "")
        self.close(out, subj, "")
        return out

    def placement(self, p: Any) -> str:
        return KINDS[p.kind].print(self, p)
