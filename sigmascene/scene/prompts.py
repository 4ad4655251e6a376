"""The text a SIGMA model is prompted with, built one way for inference and training.

SIGMA-GEN trains on two prompt forms and the model only understands those:

* background: ``Place these subjects in <prompt>`` — the scene's `prompt` says where, the maps say what;
* full: ``Place these subjects to compose: <compose>`` — the scene's `compose` describes the whole picture.

`auto` picks full when the scene has a `compose` line (the paper's ablation finds it slightly better), else
background. In either text, ``@name`` becomes the subject's `caption` when it has one, else its name with
underscores read as spaces (``@red_chair`` -> ``red chair``): the model sees words, never identifiers. A caption's
leading article is dropped after an article in the text, so ``a @vase`` with caption ``a blue vase`` reads
``a blue vase``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal, Mapping

from ..errors import ConfigError, SceneValidationError, did_you_mean
from .ir import MENTION_RE

if TYPE_CHECKING:
    from .ir import Scene

PromptMode = Literal["auto", "background", "full"]
PROMPT_MODES = ("auto", "background", "full")
BACKGROUND_TEMPLATE = "Place these subjects in {}"
FULL_TEMPLATE = "Place these subjects to compose: {}"
EMPTY_BACKGROUND = "the scene"  # what a scene with no `prompt` asks for
_ARTICLE_BEFORE = re.compile(r"\b(a|an|the)\s+$", re.IGNORECASE)
_ARTICLE_START = re.compile(r"(a|an|the)\s+", re.IGNORECASE)


def subject_phrase(name: str, caption: str | None) -> str:
    """What `@name` reads as: the caption, else the name with underscores as spaces."""
    return caption.strip() if caption and caption.strip() else name.replace("_", " ")


def rewrite_mentions(text: str, phrases: Mapping[str, str], *, field: str = "prompt",
                     scene: "Scene | None" = None) -> str:
    """Replace every ``@name`` by `phrases[name]`; an unknown name is a located SigmaError."""

    def sub(m) -> str:
        name = m.group(1)
        if name not in phrases:
            loc = scene.field_loc(field) if scene is not None else None
            raise SceneValidationError(f"`@{name}` in {field} names no subject", loc, did_you_mean(name, phrases))
        phrase = phrases[name]
        if _ARTICLE_BEFORE.search(text, 0, m.start()) and _ARTICLE_START.match(phrase):
            phrase = _ARTICLE_START.sub("", phrase, count=1)  # "a @vase" + "a blue vase" -> "a blue vase"
        return phrase

    return MENTION_RE.sub(sub, text)


def format_prompt(mode: Literal["background", "full"], text: str) -> str:
    """Wrap already-rewritten text in the template of `mode` (the trainer calls this on dataset prompts)."""
    text = " ".join(text.split())
    if mode == "background":
        return BACKGROUND_TEMPLATE.format(text or EMPTY_BACKGROUND)
    if mode == "full":
        if not text:
            raise SceneValidationError("the full prompt mode needs a non-empty compose text")
        return FULL_TEMPLATE.format(text)
    raise ConfigError(f"unknown prompt mode {mode!r}", hint=f"use one of: {', '.join(PROMPT_MODES)}")


def resolve_mode(scene: "Scene", mode: str = "auto") -> Literal["background", "full"]:
    """`auto` -> full when the scene has `compose`, else background; full without compose is an error."""
    if mode not in PROMPT_MODES:
        raise ConfigError(f"unknown prompt mode {mode!r}", hint=f"use one of: {', '.join(PROMPT_MODES)}")
    has_compose = bool(scene.compose and scene.compose.strip())
    if mode == "auto":
        return "full" if has_compose else "background"
    if mode == "full" and not has_compose:
        raise SceneValidationError("prompt mode `full` needs a `compose \"...\"` line in the scene", scene.loc,
                         hint="add `compose \"@a sits beside @b ...\"` or use --prompt-mode background")
    return "full" if mode == "full" else "background"  # PROMPT_MODES less "auto"


def build_prompt(scene: "Scene", mode: str = "auto") -> str:
    """The model prompt for a scene in `mode` (auto/background/full), with `@name` mentions rewritten."""
    resolved = resolve_mode(scene, mode)
    phrases = {s.name: subject_phrase(s.name, s.caption) for s in scene.subjects}
    field = "compose" if resolved == "full" else "prompt"
    text = (scene.compose if resolved == "full" else scene.prompt) or ""
    return format_prompt(resolved, rewrite_mentions(text, phrases, field=field, scene=scene))


# -- the collage method's instruction (a Kontext edit instruction; docs/methods.md) -------------------------------
#: Stock FLUX.1 Kontext is an editing model: it is told what to do to the image it is shown. `{scene}` is the
#: `compose` line when the scene has one, else "<subjects> in <prompt>", every `@name` read as words.
COLLAGE_TEMPLATE = ("Turn this collage into one natural photograph: {scene}. Keep every pasted subject as it is, "
                    "with the same identity, position, size and overlap, and blend them into the scene with "
                    "consistent lighting, shadows and perspective.")


def _listing(phrases: list[str]) -> str:
    phrases = [p if _ARTICLE_START.match(p) else f"the {p}" for p in phrases]
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def build_instruction(scene: "Scene") -> str:
    """The collage instruction: the scene's own `instruction` (its `@name` mentions read as words) when it has
    one, else COLLAGE_TEMPLATE filled from `compose`, or from the subjects and `prompt`."""
    phrases = {s.name: subject_phrase(s.name, s.caption) for s in scene.subjects}
    if scene.instruction is not None and scene.instruction.strip():
        return " ".join(rewrite_mentions(scene.instruction, phrases, field="instruction", scene=scene).split())
    if scene.compose and scene.compose.strip():
        text = rewrite_mentions(scene.compose, phrases, field="compose", scene=scene)
    else:
        where = rewrite_mentions(scene.prompt, phrases, scene=scene).strip() or EMPTY_BACKGROUND
        text = f"{_listing(list(phrases.values()))} in {where}" if phrases else where
    return COLLAGE_TEMPLATE.format(scene=" ".join(text.split()).rstrip("."))
