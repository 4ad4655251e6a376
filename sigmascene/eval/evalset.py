"""The eval set on disk: a folder anyone can build by hand, by `eval make-set`, or by copying renders into it.

    SET/
      evalset.json                 cases: id, scene file or dataset sample, expected references, prompt
      cases/<id>/scene.sigma       one scene per case (+ its refs, masks, depth maps beside it)
      renders/<method>/<id>.png    outputs, one folder per method (written by `eval run` or by anyone)
      renders/<method>/<id>.json   how it was rendered (mode, seconds, model)
      scores/<method>.jsonl        per-case scores (written by `eval score`, reused while inputs are unchanged)
      report/                      cases.csv, subjects.csv, summary.{csv,md}, worst.png

Cases are split like the paper's 710 (200 single-subject, 510 multi-subject) by their subject count; the
control label (Mask,Depth / Bbox / ...) is derived from the scene so renders of the same set under different
structure modes land in the paper's rows without bookkeeping.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Final, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..data import sample_to_scene  # the trainer's conversion too: cases are shown as training saw them
from ..data.io import index_path, load_dataset
from ..errors import AssetError, ConfigError, SourceLoc, did_you_mean
from ..core.files import write_text_atomic
from ..grammar import load
from ..scene.prompts import rewrite_mentions, subject_phrase
from ..scene import KINDS, Scene

FORMAT: Final = "sigmascene-evalset"
INDEX = "evalset.json"
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class SampleRef(BaseModel):
    """A case that is a dataset sample, turned into a Scene by the dataset tools at load time."""

    model_config = ConfigDict(extra="forbid")
    dataset: str  # dataset folder, relative to the set
    id: str
    structure: str = "mask_depth"


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    scene: Optional[str] = None  # scene file relative to the set: .sigma (or a Scene JSON dump)
    sample: Optional[SampleRef] = None
    prompt: Optional[str] = None  # text for SigLIP-T; default: the scene's compose (mentions → captions) or prompt
    references: dict[str, str] = Field(default_factory=dict)  # subject -> expected reference, relative to the set
    control: Optional[str] = None  # row label; derived from the scene when absent
    seed: Optional[int] = None

    @field_validator("id")
    @classmethod
    def _safe_id(cls, v: str) -> str:
        if not ID_RE.match(v):
            raise ValueError(f"case id {v!r} must be letters, digits, '_', '.', '-' (it names files)")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> "Case":
        if (self.scene is None) == (self.sample is None):
            raise ValueError(f"case {self.id!r} needs exactly one of `scene` or `sample`")
        return self


class EvalSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["sigmascene-evalset"] = FORMAT
    version: Literal[1] = 1
    name: str = "evalset"
    cases: list[Case] = Field(default_factory=list)

    _root: Path = Path(".")

    @property
    def root(self) -> Path:
        return self._root

    # -- files ----------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, root: str | Path) -> "EvalSet":
        root = Path(root)
        index = root / INDEX
        if not index.is_file():
            raise AssetError(f"{root} is not an eval set: it has no {INDEX}",
                             hint="build one with `sigmascene eval make-set DATASET -o SET`, or write "
                                  f"{INDEX} by hand (see docs/eval.md)")
        try:
            data = json.loads(index.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise AssetError(f"{INDEX} is not valid JSON: {err.msg}", SourceLoc(str(index), err.lineno, err.colno)
                             ) from None
        except UnicodeDecodeError as err:  # binary junk was a traceback
            raise AssetError(f"{index} is not UTF-8 text (byte {err.object[err.start]:02x} at offset {err.start})",
                             hint="evalset.json is JSON in UTF-8; rebuild it with `sigmascene eval make-set`") from None
        try:
            out = cls.model_validate(data)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "the top level"  # `[]` said "evalset.json: : ..."
            raise AssetError(f"{index}: {where}: {first['msg']}") from None
        seen: set[str] = set()
        for case in out.cases:
            if case.id in seen:
                raise AssetError(f"{index}: case id '{case.id}' appears twice")
            seen.add(case.id)
        out._root = root
        return out

    def save(self, root: str | Path | None = None) -> Path:
        if root is not None:
            self._root = Path(root)
        self._root.mkdir(parents=True, exist_ok=True)
        path = self._root / INDEX
        write_text_atomic(path, self.model_dump_json(indent=2, exclude_none=True) + "\n")
        return path

    def case(self, case_id: str) -> Case:
        for c in self.cases:
            if c.id == case_id:
                return c
        raise ConfigError(f"no case '{case_id}' in {self.root}", hint=did_you_mean(case_id, [c.id for c in self.cases]))

    # -- what a case means ----------------------------------------------------------------------------------
    def load_scene(self, case: Case) -> Scene:
        """The case's Scene, base_dir set so its refs/masks resolve; errors point into the scene file."""
        if case.scene is not None:
            path = self.root / case.scene
            if not path.is_file():
                raise AssetError(f"case '{case.id}': scene file {path} does not exist")
            if path.suffix == ".json":
                try:
                    scene = Scene.model_validate_json(path.read_text(encoding="utf-8"))
                except ValidationError as err:
                    raise AssetError(f"{path}: {err.errors()[0]['msg']}") from None
                scene.base_dir = path.parent
                return scene.validate_scene()
            return load(path)
        sample, droot = self.load_sample(case)
        assert case.sample is not None  # load_sample checked it
        return sample_to_scene(sample, droot, case.sample.structure)

    def load_sample(self, case: Case) -> tuple[Any, Path]:
        """(dataset Sample, dataset root) of a case that names one; datasets are read once per process."""
        assert case.sample is not None
        droot = self.root / case.sample.dataset
        return _find_sample(_dataset(droot), case.sample.id, droot), droot

    def references(self, case: Case, scene: Scene) -> dict[str, Path]:
        """subject name -> expected reference image: the case's override, else the ref the model was given."""
        out = {s.name: scene.resolve(s.ref) for s in scene.subjects}
        for name, rel in case.references.items():
            if name not in out:
                raise AssetError(f"case '{case.id}': reference for unknown subject '{name}'",
                                 hint=did_you_mean(name, list(out)))
            out[name] = self.root / rel
        return out

    def render_dir(self, method: str) -> Path:
        """SET/renders/METHOD; a method is one folder name (`-m ../../x` wrote renders outside the set)."""
        if not method or method in (".", "..") or "/" in method or "\\" in method or "\x00" in method:
            raise ConfigError(f"method name {method!r} must be a plain folder name", hint="for example: -m sigma-lora")
        return self.root / "renders" / method

    def methods(self) -> list[str]:
        d = self.root / "renders"
        return sorted(p.name for p in d.iterdir() if p.is_dir()) if d.is_dir() else []


_DATASETS: dict[tuple[str, int, int], list] = {}


def _dataset(root: Path) -> list:
    """A dataset's samples, read once per process while its index is unchanged (a set names it per case)."""
    try:
        st = index_path(root).stat()
        key = (str(root.resolve()), st.st_size, st.st_mtime_ns)
    except OSError:
        return load_dataset(root)  # raises the dataset tools' own located error
    if key not in _DATASETS:
        _DATASETS.clear()
        _DATASETS[key] = load_dataset(root)
    return _DATASETS[key]


def _find_sample(samples: list, sample_id: str, root: Path):
    for s in samples:
        if str(getattr(s, "id", None)) == sample_id:
            return s
    raise AssetError(f"dataset {root} has no sample '{sample_id}'")


def case_text(case: Case, scene: Scene) -> str:
    """The text SigLIP-T compares against: what the user asked for, with @mentions spelt out."""
    if case.prompt:
        return case.prompt
    phrases = {s.name: subject_phrase(s.name, s.caption) for s in scene.subjects}
    if scene.compose and scene.compose.strip():
        return rewrite_mentions(scene.compose, phrases, field="compose", scene=scene)
    return rewrite_mentions(scene.prompt, phrases, scene=scene)


def subject_group(n: int) -> str:
    return "single" if n == 1 else "multi"


# The paper's order of the control words; each placement kind names its word (`control_word`, scene/kinds/), and a
# word not listed here sorts after these.
CONTROL_ORDER = ("Mask", "Bbox", "3D box", "Mesh")


def control_label(case: Case, scene: Scene) -> str:
    """The paper's Control column: the placement kinds used, plus `Depth` when any subject carries depth."""
    if case.control:
        return case.control
    kinds: list[str] = []
    for s in scene.subjects:
        word = KINDS[s.placement.kind].control_word
        if word not in kinds:
            kinds.append(word)
    kinds.sort(key=lambda w: (CONTROL_ORDER.index(w) if w in CONTROL_ORDER else len(CONTROL_ORDER), w))
    has_depth = any(s.depth_map is not None or s.depth is not None or KINDS[s.placement.kind].solid
                    for s in scene.subjects)
    return "+".join(kinds) + (",Depth" if has_depth else "")
