"""`data show`: one sample as the trainer will see it — its target image beside the compiler's contact sheet.

No maps are drawn here: the sample becomes a Scene (`sample_to_scene`) and goes through `sigmascene.compile`
and `sigmascene.compiler.preview.contact_sheet`, exactly the path of training, so what the sheet shows is what the model
is trained on.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from ..core.files import png_mark, refuse_unmarked_png
from .io import load_dataset, resolve
from .schema import Sample
from .to_scene import STRUCTURES, sample_to_scene


def pick_sample(samples: list[Sample], key: str) -> Sample:
    """A sample by id, else by 0-based position in the index."""
    for s in samples:
        if s.id == key:
            return s
    if key.lstrip("-").isdigit():
        k = int(key)
        if 0 <= k < len(samples):
            return samples[k]
        raise ConfigError(f"--sample {k} is out of range: the dataset has {len(samples)} samples "
                         f"(0..{len(samples) - 1})")
    raise ConfigError(f"no sample with id {key!r}", hint="give a sample id or a 0-based position")


def sheet_with_target(sample: Sample, root: Path, structure: str):
    """The contact sheet of one structure mode, with the sample's target image and prompt above it."""
    from PIL import Image, ImageDraw

    from ..compiler import compile_scene
    from ..compiler.preview import contact_sheet, font

    compiled = compile_scene(sample_to_scene(sample, root, structure))
    sheet = contact_sheet(compiled)
    with Image.open(resolve(root, sample.image)) as im:
        target = im.convert("RGB")
    side = 320
    scale = side / max(target.size)
    target = target.resize((max(1, round(target.width * scale)), max(1, round(target.height * scale))),
                           Image.Resampling.LANCZOS)
    top = target.height + 24
    out = Image.new("RGB", (max(sheet.width, target.width + 24), sheet.height + top), (255, 255, 255))
    out.paste(target, (12, 12))
    draw = ImageDraw.Draw(out)
    text = f"sample {sample.id} · structure {structure}\n\n{_wrap(sample.prompts.full or sample.prompts.background)}"
    draw.multiline_text((target.width + 28, 14), text, font=font(14), fill=(20, 20, 20))
    out.paste(sheet, (0, top))
    return out


def _wrap(text: str, width: int = 80) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) if text else ""


def show_sample(root: str | Path, key: str, structure: str = "mask_depth", out: str | Path | None = None,
                force: bool = False) -> list[Path]:
    """Write the preview sheet(s) of one sample; `structure` "all" writes one per mode. Returns the paths.

    A file at `out` that is not a sheet sigmascene drew is kept unless `force` (the default place, the dataset's
    own previews/ folder, is always rewritten)."""
    root = Path(root)
    modes = list(STRUCTURES) if structure == "all" else [structure]
    if any(m not in STRUCTURES for m in modes):
        raise ConfigError(f"unknown structure {structure!r}", hint=f"use one of: {', '.join(STRUCTURES)}, all")
    if out is not None and Path(out).suffix.lower() not in ("", ".png"):  # PIL's "unknown file extension" traceback
        raise ConfigError(f"sample sheets are PNG files; --out should end in .png, got {out}")
    sample = pick_sample(load_dataset(root), key)
    written = []
    for mode in modes:
        if out is None:
            path = root / "previews" / f"{sample.id}_{mode}.png"
        else:
            path = Path(out)
            if len(modes) > 1:
                path = path.with_name(f"{path.stem}_{mode}{path.suffix or '.png'}")
        if out is not None and path.suffix == "":
            path = path.with_suffix(".png")
        if out is not None:
            refuse_unmarked_png(path, force, "sheet", "--out")
        path.parent.mkdir(parents=True, exist_ok=True)
        sheet_with_target(sample, root, mode).save(path, format="PNG", pnginfo=png_mark("sample sheet"))
        written.append(path)
    return written
