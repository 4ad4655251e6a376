"""Scene prompts: N subjects with captions, a background prompt and a full prompt with `@name` mentions.

The default is a seeded generator over the vocabulary files shipped in `sigmascene/data/recipe/vocab/`, so a
build needs no language model and sample k's scene is fixed by (seed, k). The option is a local instruct LLM
(transformers text-generation) answering a fixed JSON shape; its answer is validated and retried with a new
seed, and a sample whose every answer is malformed is rejected with the last problem as its reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import json
import re
from functools import lru_cache
from importlib import resources

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ...schema import NAME_RE
from ..store import Outcome
from .base import Stage, Work

if TYPE_CHECKING:
    from ..config import PromptStage as PromptSection


@lru_cache(maxsize=None)
def vocab(name: str) -> tuple[str, ...]:
    """The non-comment lines of a shipped vocabulary file."""
    text = resources.files("sigmascene.data.recipe").joinpath("vocab", f"{name}.txt").read_text(encoding="utf-8")
    return tuple(s.strip() for s in text.splitlines() if s.strip() and not s.lstrip().startswith("#"))


def subject_count(rng: np.random.Generator, weights: list[float]) -> int:
    w = np.asarray(weights, dtype=np.float64)
    return int(rng.choice(len(w), p=w / w.sum())) + 1


def _identifier(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text.strip().lower()).strip("_") or "subject"


def unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}_{seen[n]}")
    return out


def mention_list(names: list[str]) -> str:
    at = [f"@{n}" for n in names]
    return at[0] if len(at) == 1 else ", ".join(at[:-1]) + " and " + at[-1]


def builtin_scene(rng: np.random.Generator, n: int) -> dict:
    objects = [line.split(":", 1) for line in vocab("objects")]
    picks = rng.choice(len(objects), size=min(n, len(objects)), replace=False)
    colours, materials = vocab("colours"), vocab("materials")
    subjects = []
    for k in picks:
        category, obj = (s.strip() for s in objects[int(k)])
        colour, material = colours[rng.integers(len(colours))], materials[rng.integers(len(materials))]
        subjects.append({"object": obj, "category": category, "caption": f"a {colour} {material} {obj}"})
    for s, name in zip(subjects, unique_names([_identifier(s["object"]) for s in subjects])):
        s["name"] = name
    outdoor = bool(rng.random() < 0.4)
    setting = vocab("settings_outdoor" if outdoor else "settings_indoor")
    place = setting[rng.integers(len(setting))]
    light = vocab("light")[rng.integers(len(vocab("light")))]
    background = f"{place}, {light}"
    full = f"{mention_list([s['name'] for s in subjects])} in {place}, {light}"
    return {"subjects": subjects, "background": background, "full": full}


# -- the LLM option ---------------------------------------------------------------------------------------------
class _LLMSubject(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    caption: str = Field(min_length=3)

    @field_validator("name")
    @classmethod
    def _ident(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError(f"name {v!r} is not an identifier")
        return v


class _LLMScene(BaseModel):
    model_config = ConfigDict(extra="ignore")
    subjects: list[_LLMSubject]
    background: str = Field(min_length=3)
    full: str = Field(min_length=3)


LLM_PROMPT = (
    "Invent a photograph of {n} distinct physical objects in one place. Answer with JSON only, in exactly this "
    'shape: {{"subjects": [{{"name": "red_mug", "caption": "a red ceramic mug"}}], "background": "a sunlit kitchen '
    'table, morning light", "full": "@red_mug next to ..."}}. Give exactly {n} subjects; names are identifiers '
    "(letters, digits, _); `full` mentions every subject as @name.\nJSON: "
)


def parse_llm_answer(text: str, n: int) -> dict:
    """The scene an LLM answer describes, or ValueError saying what is wrong with it."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("no JSON object in the answer")
    try:
        obj = json.loads(text[start:end + 1])
    except json.JSONDecodeError as e:
        raise ValueError(f"malformed JSON ({e.msg})") from None
    try:
        scene = _LLMScene.model_validate(obj)
    except ValidationError as e:
        raise ValueError(f"wrong JSON shape ({e.errors()[0]['msg']})") from None
    names = [s.name for s in scene.subjects]
    if len(names) != n:
        raise ValueError(f"{len(names)} subjects instead of {n}")
    if len(set(names)) != n:
        raise ValueError("repeated subject names")
    missing = [x for x in names if f"@{x}" not in scene.full]
    if missing:
        raise ValueError(f"full prompt does not mention @{missing[0]}")
    return {"subjects": [{"name": s.name, "caption": s.caption, "object": s.name, "category": "llm"}
                         for s in scene.subjects], "background": scene.background, "full": scene.full}


class PromptsStage(Stage):
    name = "prompts"
    section: PromptSection  # the [stages.prompts] table

    def load(self) -> None:
        if self.section.kind != "llm":
            return
        from transformers import pipeline

        from ..models import find

        dev, dtype = self.device_dtype()
        self.m_llm = pipeline("text-generation", model=str(find(self.plan.refs, "prompts", "llm").path),
                              device=dev, dtype=dtype)

    def _ask(self, n: int, seed: int) -> dict | str:
        from transformers import set_seed

        problem = ""
        for attempt in range(self.section.retries + 1):
            set_seed(seed + attempt)
            out = self.m_llm(LLM_PROMPT.format(n=n), max_new_tokens=self.section.max_new_tokens, do_sample=True,
                             temperature=self.section.temperature, return_full_text=False)
            try:
                return parse_llm_answer(out[0]["generated_text"], n)
            except ValueError as e:
                problem = str(e)
        return problem

    def process(self, works: list[Work]) -> list[Outcome]:
        out = []
        for w in works:
            rng = np.random.default_rng(w.seed)
            n = subject_count(rng, self.cfg.build.subjects)
            if self.section.kind == "builtin":
                out.append(Outcome(data=builtin_scene(rng, n)))
                continue
            got = self._ask(n, w.seed % (2**31))
            if isinstance(got, str):
                out.append(Outcome.reject("prompts.llm_invalid", f"no valid LLM answer in {self.section.retries + 1} "
                                                                 f"attempts (last: {got})"))
            else:
                out.append(Outcome(data=got))
        return out
