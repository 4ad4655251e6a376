"""Scoring: every metric per case and per subject, for every method rendered into a set.

Scores are cached per method in `scores/<method>.jsonl`, keyed by what they depend on (the render file, the case
entry, the weights used), so adding renders or a newly available backbone rescored only what changed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
from PIL import Image

from ..compiler import compile_scene
from ..errors import AssetError, SigmaError, did_you_mean
from ..core.files import write_text_atomic
from ..core.masks import mask_box
from .evalset import Case, EvalSet, case_text, control_label, subject_group
from .metrics import MetricSuite
from .metrics.embed import cosine100
from .metrics.identity import crop_subject, load_reference

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@dataclass
class Layout:
    """What scoring needs from a compiled scene: the control image, subject order and each subject's region."""

    control: np.ndarray  # H×W×3 uint8: R = IR_asc, G = IR_desc, B = I_T
    order: list[str]  # far to near; subject k (1-based) has routing intensity 10·k
    regions: dict[str, np.ndarray]  # name -> H×W bool

    @classmethod
    def of(cls, compiled: Any) -> "Layout":
        order = [getattr(o, "name", o) for o in compiled.order]
        regions = {name: np.asarray(mask, dtype=bool) for name, mask in compiled.coverage.items()}
        return cls(np.asarray(compiled.control, dtype=np.uint8), list(order), regions)


@dataclass
class SubjectScore:
    subject: str
    index: int  # 1-based position in the far-to-near order
    pixels: int  # size of the region the crop came from
    bbox: list[int] | None = None  # x0, y0, x1, y1 of that region in canvas pixels (for the worst-case grid)
    reference: str | None = None  # the expected reference image
    dino_i: float | None = None
    siglip_i: float | None = None
    depth_mse: float | None = None


@dataclass
class CaseScore:
    method: str
    case: str
    group: str  # single | multi
    control: str  # the paper's Control column
    n_subjects: int
    render: str  # path relative to the set
    values: dict[str, float | None] = field(default_factory=dict)  # metric key -> case value (None = n/a)
    subjects: list[SubjectScore] = field(default_factory=list)
    canvas: list[int] | None = None  # (W, H) the subject boxes are in; renders of another size are resampled

    @classmethod
    def from_dict(cls, d: dict) -> "CaseScore":
        d = dict(d)
        d["subjects"] = [SubjectScore(**s) for s in d.get("subjects", [])]
        return cls(**d)


def find_render(folder: Path, case_id: str) -> Path | None:
    for suffix in IMAGE_SUFFIXES:
        p = folder / f"{case_id}{suffix}"
        if p.is_file():
            return p
    return None


def load_render(path: Path, size: tuple[int, int]) -> np.ndarray:
    """The output as H×W×3 uint8 at the canvas size (renders at another size are resampled onto the canvas)."""
    try:
        with Image.open(path) as im:
            rgb = im.convert("RGB")
    except OSError as err:
        raise AssetError(f"cannot read render {path}: {err}") from None
    if rgb.size != size:
        rgb = rgb.resize(size, Image.Resampling.LANCZOS)
    return np.asarray(rgb)


def score_image(image: np.ndarray, layout: Layout, references: dict[str, Path], text: str,
                suite: MetricSuite) -> tuple[dict[str, float | None], list[SubjectScore]]:
    """All active metrics for one output image; identity per subject, the rest per image."""
    subjects: list[SubjectScore] = []
    crops, refs, scored = [], [], []
    for k, name in enumerate(layout.order, start=1):
        region = layout.regions.get(name)
        region = np.zeros(image.shape[:2], bool) if region is None else region
        box = mask_box(region)
        row = SubjectScore(name, k, int(region.sum()), None if box is None else list(box), str(references[name]))
        subjects.append(row)
        crop = crop_subject(image, region)
        if crop is not None and (suite.dino or suite.siglip_i):
            ref_path = references[name]
            crops.append(crop)
            refs.append((str(ref_path), load_reference(ref_path)))
            scored.append(row)
    for metric, attr in ((suite.dino, "dino_i"), (suite.siglip_i, "siglip_i")):
        if metric is not None and crops:
            for row, value in zip(scored, metric.score(crops, refs)):
                setattr(row, attr, float(value))

    values: dict[str, float | None] = {}
    for attr in ("dino_i", "siglip_i"):
        if (suite.dino if attr == "dino_i" else suite.siglip_i) is not None:
            got = [getattr(r, attr) for r in subjects if getattr(r, attr) is not None]
            values[attr] = float(np.mean(got)) if got else None
    if suite.siglip_t is not None:
        img = suite.siglip_t.image.embed([image])
        txt = suite.siglip_t.embed([text])
        values["siglip_t"] = float(cosine100(img, txt)[0])
    if suite.depth is not None:
        from .metrics.depth import depth_mse

        result = depth_mse(suite.depth.predict_inverse(image), layout.control, layout.order)
        values["depth_mse"] = None if result is None else result.mse
        if result is not None:
            for row in subjects:
                row.depth_mse = result.per_subject.get(row.subject)
    if suite.clip_iqa is not None:
        values["clip_iqa"] = float(suite.clip_iqa.score([image])[0])
    if suite.musiq is not None:
        values["musiq"] = float(suite.musiq.score([image])[0])
    return values, subjects


def _stamp(render: Path, case: Case, weights_fp: dict, active: list[str], scene_key: list) -> str:
    st = render.stat()
    key = json.dumps([str(render.name), st.st_mtime_ns, st.st_size, case.model_dump(), weights_fp, active, scene_key],
                     sort_keys=True, default=str)
    return hashlib.sha256(key.encode()).hexdigest()[:20]


@dataclass
class Prepared:
    layout: Layout
    references: dict[str, Path]
    text: str
    group: str
    control: str
    canvas: tuple[int, int]


def prepare_case(evalset: EvalSet, case: Case) -> Prepared:
    """Compile the case's scene with the same compiler the model used, so regions match what it was asked."""
    scene = evalset.load_scene(case)
    compiled = compile_scene(scene)
    layout = Layout.of(compiled)
    return Prepared(layout, evalset.references(case, scene), case_text(case, scene),
                    subject_group(len(scene.subjects)), control_label(case, scene),
                    (scene.canvas.width, scene.canvas.height))


def score_set(evalset: EvalSet, suite: MetricSuite, weights_fp: dict, methods: Iterable[str] | None = None,
              force: bool = False, advance: Callable[[str], None] | None = None,
              failed: list[tuple[str, str]] | None = None) -> list[CaseScore]:
    """Score every (method, case) with a render; reuse cached scores whose inputs are unchanged.

    A case that cannot be scored (its scene or a reference is broken) is appended to `failed` as
    ("method/case", reason) and the others are still scored; without a `failed` list the error propagates."""
    methods = list(methods) if methods is not None else evalset.methods()
    for m in methods:
        if not evalset.render_dir(m).is_dir():
            raise AssetError(f"no renders for method '{m}' in {evalset.root / 'renders'}",
                             hint=did_you_mean(m, evalset.methods()) or "render with `sigmascene eval run`")
    active = suite.active()
    caches = {m: _read_cache(evalset, m) for m in methods}
    out: list[CaseScore] = []
    for case in evalset.cases:
        prepared: Prepared | None = None
        scene_key = _scene_key(evalset, case)
        for m in methods:
            render = find_render(evalset.render_dir(m), case.id)
            if render is None:
                continue
            stamp = _stamp(render, case, weights_fp, active, scene_key)
            hit = caches[m].get(case.id)
            try:
                if hit and hit.get("stamp") == stamp and not force:
                    out.append(CaseScore.from_dict(hit["score"]))
                else:
                    prepared = prepared or prepare_case(evalset, case)
                    cs = _score_one(evalset, m, case, render, prepared, suite)
                    caches[m][case.id] = rec = {"case": case.id, "stamp": stamp, "score": asdict(cs)}
                    _append_cache(evalset, m, rec)
                    out.append(cs)
            except SigmaError as err:
                if failed is None:
                    raise
                failed.append((f"{m}/{case.id}", err.format().splitlines()[0]))
            if advance:
                advance(f"{m}/{case.id}")
    for m in methods:
        _compact_cache(evalset, m, caches[m])
    return out


def _score_one(evalset: EvalSet, method: str, case: Case, render: Path, prepared: Prepared,
               suite: MetricSuite) -> CaseScore:
    image = load_render(render, prepared.canvas)
    values, subjects = score_image(image, prepared.layout, prepared.references, prepared.text, suite)
    return CaseScore(method, case.id, prepared.group, prepared.control, len(prepared.layout.order),
                     str(render.relative_to(evalset.root)), values, subjects, list(prepared.canvas))


def _scene_key(evalset: EvalSet, case: Case) -> list:
    """Size and time of the case's scene file, so editing a scene invalidates its cached scores."""
    if case.scene is None:
        return []
    try:
        st = (evalset.root / case.scene).stat()
        return [st.st_size, st.st_mtime_ns]
    except OSError:
        return []


def count_work(evalset: EvalSet, methods: Iterable[str]) -> int:
    return sum(find_render(evalset.render_dir(m), c.id) is not None for m in methods for c in evalset.cases)


def _cache_path(evalset: EvalSet, method: str) -> Path:
    return evalset.root / "scores" / f"{method}.jsonl"


def _read_cache(evalset: EvalSet, method: str) -> dict:
    """case id -> {stamp, score}; later lines win, and a damaged line only costs that case a rescore."""
    out: dict = {}
    try:
        lines = _cache_path(evalset, method).read_text(encoding="utf-8").splitlines()
    except OSError:
        return out
    for line in lines:
        try:
            rec = json.loads(line)
            out[rec["case"]] = rec
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    return out


def _append_cache(evalset: EvalSet, method: str, record: dict) -> None:
    """Append, so an interrupted scoring run keeps every case it finished."""
    p = _cache_path(evalset, method)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def _compact_cache(evalset: EvalSet, method: str, cases: dict) -> None:
    p = _cache_path(evalset, method)
    if not cases:
        return
    write_text_atomic(p, "".join(json.dumps(r) + "\n" for r in cases.values()))
