"""Parsed statements -> Scene: follow includes, resolve `$params` and units, build pydantic nodes.

Problems are collected, not raised one at a time, so `sigmascene check` can list every error in one run. Each
value keeps its spelling and location on the node it lands in, for `fmt` and for errors found later.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from ..errors import Diagnostic, SceneValidationError, SigmaError, SigmaSyntaxError, SourceLoc, did_you_mean
from ..core.paths import confine
from ..scene import (KINDS, MAX_SEED, MAX_SUBJECTS, SUPPORTED_VERSIONS, Camera, Canvas, Include, Node, Param,
                     Relation, Scene, Subject)
from .background import finish_background, lower_background
from .comments import attach_comments
from .lowering import Lowering
from .params import SET_LABEL
from .parser import (BlockStmt, CanvasStmt, ParamStmt, ParsedFile, PlacementStmt, RelationStmt, Scalar, Stmt,
                     SubjectStmt, Text, ValueStmt, grammar_words, parse_source)
from .sources import read_scene_file

MAX_ERRORS = 50


def _item_key(st: Stmt) -> str:
    """The Subject field a subject item sets: its keyword (`s_depth_map` -> depth_map), or `placement`."""
    return "placement" if isinstance(st, PlacementStmt) else st.kind[2:]


def _placement_words() -> list[str]:
    """The placement keywords in the grammar's order, for messages that list them."""
    return [kw for kw in grammar_words()[1] if kw in KINDS]


def lower(root: ParsedFile, *, base_dir: Path, overrides: Mapping[str, str], fragment: bool = False,
          root_dir: Path | None = None, override_label: str = SET_LABEL) -> Scene:
    """`root_dir`, when set, confines every file the scene names to that folder (see sigmascene.core.paths);
    `override_label` names the overrides in their errors (`--set {name}`)."""
    return _Lowerer(root, base_dir, overrides, fragment, root_dir, override_label).run()


MAX_TEXT_SEED = MAX_SEED  # the scene's seed rule (sigmascene/scene/ir.py)


class _Lowerer(Lowering):
    """The statements, in the order they must be lowered; the reading of values is Lowering's."""

    # -- driver ------------------------------------------------------------------------------------------------
    def run(self) -> Scene:
        flat = self.expand(self.root, [])
        self.check_versions(flat)
        for _pf, st in flat:
            if isinstance(st, ParamStmt):
                self.params.declare(st)
        self.params.apply_overrides(self.overrides)
        for st, value, unit in self.params.resolved():
            node = self.make(Param, st, {"name": st.name, "value": value, "unit": unit}, {})
            if node is not None:
                raw = self.params.raw(st.name)
                node._src["value"] = (raw.text, value)
                if raw.loc.file == st.loc.file:  # not a --set override: where the editor changes the value
                    node._spans["value"] = raw.span
                self.scene.params.append(node)
                self.anchor(st, node, "")
        for pf, st in flat:
            if st.kind in ("canvas", "seed", "prompt", "compose", "instruction", "camera", "background",
                           "background_depth"):
                getattr(self, st.kind)(st, pf)
        self.photo_canvas()
        subjects = 0
        for pf, st in flat:
            if isinstance(st, SubjectStmt):
                subjects += 1
                if subjects > MAX_SUBJECTS:  # the rest are not lowered: a huge file is one error, not a slow one
                    total = sum(s.kind == "subject" for _, s in flat)
                    self.error(f"a scene holds at most {MAX_SUBJECTS} subjects (routing intensities 10..250), "
                               f"this one has {total}", st.loc)
                    break
                self.subject(st, pf)
            elif isinstance(st, ValueStmt) and isinstance(st.value, Text) and st.kind == "include" \
                    and st.value.param is None:
                inc = Include(path=st.value.value, position=len(self.scene.subjects))
                self.place(inc, st, {"path": st.value})
                self.scene.includes.append(inc)
                self.anchor(st, inc, "")
        if self.diags:
            if not self.fragment:  # names, mentions, cycles: independent of the values that failed above
                # partial: with errors above, a scene without subjects is what they left, not a new mistake
                for d in self.scene.problems(failed=self.failed, partial=True) + self.cut_relation_problems():
                    self.diags.append(d)
                    self.kinds[id(d)] = SceneValidationError
            kinds = {self.kinds.get(id(d), SigmaError) for d in self.diags}
            diags = self.in_source_order(self.diags)
            if len(diags) > MAX_ERRORS:  # like a compiler's -fmax-errors: a mangled file is not 10,000 messages
                diags = diags[:MAX_ERRORS] + [Diagnostic(f"{len(diags) - MAX_ERRORS} more errors not shown", None,
                                                         "fix the ones above first", severity="note")]
            raise (kinds.pop() if len(kinds) == 1 else SigmaError)(diags)
        attach_comments(self.comments, self.anchors, self.root.path, self.scene)
        return self.scene

    def cut_relation_problems(self) -> list[Diagnostic]:
        """`behind NAME` / `in_front_of NAME` of a subject that was not built (a syntax error cut it, or a value in
        it failed): a misspelt NAME there is a mistake of its own, reported like any other relation's."""
        names = [s.name for s in self.scene.subjects] + list(self.failed)
        out = []
        for owner, rel in self.cut_relations:
            if rel.target != owner and rel.target not in names:
                out.append(Diagnostic(f"unknown subject '{rel.target}' in `{rel.kind}`", rel.field_loc("target"),
                                      did_you_mean(rel.target, names)))
        return out

    def in_source_order(self, diags: list[Diagnostic]) -> list[Diagnostic]:
        """Errors as a reader meets them: command-line ones first, then by file (as included), line, column."""
        files = {f: i for i, f in enumerate(self.comments)}

        def key(d: Diagnostic) -> tuple:
            if d.loc is None:
                return (0, 0, 0, 0)
            return (1, files.get(d.loc.file, len(files)), d.loc.line, d.loc.column)

        return sorted(diags, key=key)

    def expand(self, pf: ParsedFile,
               stack: list[tuple[Path | None, SourceLoc | None]]) -> list[tuple[ParsedFile, Stmt]]:
        """Statements of a file with its includes spliced in where they stand; include cycles are errors."""
        self.comments[pf.path] = pf.comments
        if pf.errors:  # syntax errors the parser recovered from: reported with everything else found below
            self.absorb(SigmaSyntaxError(pf.errors))
            self.failed.update(pf.broken)
        out = []
        for st in pf.stmts:
            out.append((pf, st))
            if st.kind != "include":
                continue
            assert isinstance(st, ValueStmt) and isinstance(st.value, Text)  # the grammar: include "path"
            t = st.value
            if t.param is not None or t.value is None:  # value is None exactly when a $param stands there
                self.error("include needs a literal file name, not a $param", t.loc)
                continue
            try:
                target = confine(self.dir_of(pf) / t.value, self.root_dir, t.loc, "include", t.value)
                target = Path(os.path.abspath(target))
                sub = self.parsed.get(target)
                if sub is None:  # a file included many times is read and parsed once
                    text = read_scene_file(target, t.loc, file=str(self.display_path(target)), include=True)
                    sub = self.parsed[target] = parse_source(text, str(self.display_path(target)))
            except SigmaError as err:
                self.absorb(err)
                continue
            target = target.resolve()
            chain = [p for p, _ in stack] + [Path(pf.path).resolve() if not pf.path.startswith("<") else None]
            if target in chain:
                names = [p.name for p in chain if p is not None] + [target.name]
                self.error(f"include cycle: {' -> '.join(names)}", t.loc,
                           "a file cannot include itself, even indirectly",
                           related=[("included from here", loc) for _, loc in stack if loc is not None])
                continue
            out += self.expand(sub, stack + [(Path(pf.path).resolve() if not pf.path.startswith("<") else None, t.loc)])
        return out

    def check_versions(self, flat: list[tuple[ParsedFile, Stmt]]) -> None:
        by_file: dict[str, list[Stmt]] = {}
        for pf, st in flat:
            by_file.setdefault(pf.path, []).append(st)
        root_stmts = by_file.get(self.root.path, [])
        first_error = next((d.loc for d in self.root.errors if d.loc is not None), None)
        cut_first = first_error is not None and (not root_stmts or (first_error.line, first_error.column)
                                                 <= (root_stmts[0].loc.line, root_stmts[0].loc.column))
        if not self.fragment and not cut_first and (not root_stmts or root_stmts[0].kind != "version"):
            loc = root_stmts[0].loc if root_stmts else SourceLoc(self.root.path, 1, 1)
            self.error("a scene file must start with its language version, `sigma 1`", loc,
                       f"add `sigma {SUPPORTED_VERSIONS[-1]}` as the first line")
        for path, stmts in by_file.items():
            for i, st in enumerate(stmts):
                if st.kind != "version":
                    continue
                if i:
                    self.error("`sigma` (the language version) must be the first statement of its file", st.loc)
                assert isinstance(st, ValueStmt) and isinstance(st.value, Scalar)  # the grammar: sigma NUMBER
                v = self.integer(st.value, "plain", "language version")
                if v is None:
                    continue
                if v not in SUPPORTED_VERSIONS:
                    known = ", ".join(f"sigma {k}" for k in SUPPORTED_VERSIONS)
                    newer = v > max(SUPPORTED_VERSIONS)
                    self.error(f"sigma {v} is {'newer than' if newer else 'not'} what this build of sigmascene "
                               f"understands ({known})", st.value.loc,
                               "upgrade sigmascene to read this file" if newer
                               else f"write `sigma {SUPPORTED_VERSIONS[-1]}`")
                elif path == self.root.path:
                    self.scene.version = v
                    self.set_loc(self.scene, "version", st)

    # -- scene-level statements --------------------------------------------------------------------------------
    def set_loc(self, node: Node, key: str, st: Stmt, value: Any = None) -> None:
        node._locs[key] = st.value.loc if isinstance(st, ValueStmt) else st.loc
        node._spans[key] = st.value.span if isinstance(st, ValueStmt) else st.span
        if value is not None:
            node._src[key] = value
        self.anchor(st, node, key)

    def canvas(self, st: CanvasStmt, pf: ParsedFile) -> None:
        if not self.once("canvas", st, "canvas"):
            return
        w, h = (self.integer(a, "pixels", "canvas size") for a in (st.width, st.height))
        node = self.make(Canvas, st, {"width": w, "height": h}, {"width": st.width, "height": st.height})
        if node is not None:
            self.scene.canvas = node
            self.anchor(st, self.scene, "canvas")

    def background(self, st: ValueStmt, pf: ParsedFile) -> None:
        lower_background(self, st, pf)

    def background_depth(self, st: ValueStmt, pf: ParsedFile) -> None:
        self.bg_depth = (st, pf)  # applied after every header statement: it may come before `background`

    def photo_canvas(self) -> None:
        finish_background(self, *getattr(self, "bg_depth", (None, None)))

    def seed(self, st: ValueStmt, pf: ParsedFile) -> None:
        if self.once("seed", st, "seed"):
            assert isinstance(st.value, Scalar)  # the grammar: seed NUMBER
            v = self.integer(st.value, "plain", "seed")
            text = st.value.text.strip()
            if v is not None and text.isdigit():
                v = int(text)  # numbers are read as floats: 2**53 + 1 would come out as 2**53, inside the rule
            if v is not None and v < 0:
                self.error("seed must be zero or positive", st.value.loc)
            elif v is not None and v > MAX_TEXT_SEED:
                # numbers are read as floats: a larger one came out as another seed, or crashed render past 2**64
                self.error(f"seed {st.value.text} is too large: the largest is {MAX_TEXT_SEED}", st.value.loc,
                           "larger whole numbers are not read exactly; any smaller seed is as random")
            elif v is not None:
                self.scene.seed = v
                self.set_loc(self.scene, "seed", st, (st.value.text, v))

    def prompt(self, st: ValueStmt, pf: ParsedFile) -> None:
        self.scene_text("prompt", st)

    def compose(self, st: ValueStmt, pf: ParsedFile) -> None:
        self.scene_text("compose", st)

    def instruction(self, st: ValueStmt, pf: ParsedFile) -> None:
        self.scene_text("instruction", st)

    def scene_text(self, key: str, st: ValueStmt) -> None:
        if self.once(key, st, key):
            assert isinstance(st.value, Text)  # the grammar: prompt/compose/instruction "text"
            v = self.text(st.value)
            if v is not None:
                setattr(self.scene, key, v)
                self.set_loc(self.scene, key, st, (st.value.text, v))

    def camera(self, st: BlockStmt, pf: ParsedFile) -> None:
        if not self.once("camera", st, "camera"):
            return
        fields: dict[str, Any] = {}
        raws: dict[str, Any] = {}
        spec = {"cam_position": ("position", "length"), "cam_look_at": ("look_at", "length"),
                "cam_fov": ("fov", "angle")}
        for it in st.items:
            name, dim = spec[it.kind]
            if name in raws:
                self.error(f"camera {name} is given twice", it.loc)
                continue
            assert isinstance(it, ValueStmt)  # camera items are `KEYWORD value`
            raws[name] = it.value
            if name == "fov":
                assert isinstance(it.value, Scalar)  # the grammar: fov NUMBER
                fields[name] = self.num(it.value, dim)
            else:
                fields[name] = self.vec(it.value, dim, 3, f"camera {name}")
        node = self.make(Camera, st, fields, raws)
        if node is not None:
            self.scene.camera = node
            self.anchor(st, self.scene, "camera")
            for it in st.items:
                self.anchor(it, node, spec[it.kind][0])

    # -- subjects ---------------------------------------------------------------------------------------------
    def subject(self, st: SubjectStmt, pf: ParsedFile) -> None:
        name, name_loc = st.name, st.name_loc
        fields: dict[str, Any] = {"name": name}
        raws: dict[str, Any] = {}
        seen: dict[str, Stmt] = {}
        relations: list[Relation] = []
        item_anchors: list[tuple[Stmt, Node | None, str]] = []
        ok = not st.broken  # a syntax error cut it: its items are checked, the subject is not built
        for it in st.items:
            if st.broken and pf.touched(it):  # what is left of a cut item says nothing about the file
                continue
            if isinstance(it, RelationStmt):
                rel = Relation(kind=it.kind[2:], target=it.target)
                rel._loc, rel._locs["target"] = it.loc, it.target_loc
                rel._spans[""], rel._spans["target"] = it.span, it.target_span
                relations.append(rel)
                item_anchors.append((it, rel, ""))
                continue
            key = _item_key(it)
            if key in seen:
                first = seen[key]
                what = "a placement" if key == "placement" else f"`{key}`"
                self.error(f"subject '{name}' has {what} twice", it.loc,
                           f"a subject takes exactly one of {', '.join(_placement_words())}"
                           if key == "placement" else None,
                           related=[("first given here", first.loc)])
                ok = False
                continue
            seen[key] = it
            item_anchors.append((it, None, key))
            if isinstance(it, PlacementStmt):
                fields["placement"] = KINDS[it.keyword].lower(self, it, pf)
                ok = ok and fields["placement"] is not None
                continue
            assert isinstance(it, ValueStmt)  # the other subject items are `KEYWORD value`
            if key == "depth":
                assert isinstance(it.value, Scalar)  # the grammar: depth NUMBER
                fields["depth"], raws["depth"] = self.num(it.value, "length"), it.value
            elif key == "caption":
                assert isinstance(it.value, Text)  # the grammar: caption "text"
                fields["caption"], raws["caption"] = self.text(it.value), it.value
            else:
                assert isinstance(it.value, Text)  # the grammar: ref / matte / depth_map "path"
                fields[key], raws[key] = self.path(it.value, pf, key.replace("_", " ")), it.value
        if st.broken:
            self.failed[name] = name_loc
            self.cut_relations += [(name, rel) for rel in relations]  # their names are still checked
            return
        if "ref" not in seen:
            self.error(f"subject '{name}' has no `ref` (its identity reference image)", name_loc,
                       f'add `ref "refs/{name}.png"` inside the braces')
            ok = False
        if "placement" not in seen:
            self.error(f"subject '{name}' has no placement", name_loc,
                       "add one of " + ", ".join(KINDS[kw].usage for kw in _placement_words()))
            ok = False
        if not ok:
            self.failed[name] = name_loc
            self.cut_relations += [(name, rel) for rel in relations]
            return
        fields["relations"] = relations
        node = self.make(Subject, st, fields, raws)
        if node is None:
            self.failed[name] = name_loc
            self.cut_relations += [(name, rel) for rel in relations]
            return
        node._locs["name"], node._spans["name"] = name_loc, st.name_span
        for it, _, key in item_anchors:
            if key:
                node._spans["item:" + key] = it.span
        self.scene.subjects.append(node)
        self.anchor(st, node, "")
        for it, target, key in item_anchors:
            self.anchor(it, target or node, key)
