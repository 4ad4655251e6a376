"""Pictures of a compiled scene that a person reads at a glance: the layout preview and the `--maps` sheet.

The sheet answers three questions without reading code: which subject goes where (outlines, names and
reference thumbnails over a neutral background), which is in front (IR_asc / IR_desc in one colour per subject,
with a name <-> intensity legend, and the depth channel with a scale bar in metres), and which reference
belongs to which region (the identity dictionary with each block tagged in its subject's colour).
"""

from __future__ import annotations

import colorsys
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..core.masks import mask_box
from ..core.owned_cache import OwnedCache
from .compiled import CompiledScene
from .depth import decode_depth
from .preview_text import INK, _label, _label_size, _place, _text_box, elide, font
from ..core.vocab import routing_intensity

PANEL = 512  # longer side of a canvas-shaped panel, pixels
PAD = 16
HEADER = 30
SHEET_BG = (246, 246, 244)
MAP_BG = (38, 38, 42)
LAYOUT_BG = (196, 196, 192)


@lru_cache(maxsize=16)
def palette(n: int) -> list[tuple[int, int, int]]:
    """Distinct, saturated colours: golden-ratio hue steps, so neighbours in depth never look alike."""
    out = []
    for k in range(n):
        r, g, b = colorsys.hsv_to_rgb((0.08 + k * 0.618034) % 1.0, 0.70 if k % 2 else 0.85, 0.95 if k % 3 else 0.80)
        out.append((int(r * 255), int(g * 255), int(b * 255)))
    return out


def _panel_size(compiled: CompiledScene, long_side: int = PANEL) -> tuple[int, int]:
    w, h = compiled.scene.canvas.width, compiled.scene.canvas.height
    s = long_side / max(w, h)
    return max(1, round(w * s)), max(1, round(h * s))


@lru_cache(maxsize=32)
def _nearest(shape: tuple[int, int], size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The source row and column Pillow's NEAREST resize picks for each output pixel (it maps each axis on its
    own), found by resizing index images once: indexing with them gives Pillow's result, pixel for pixel."""
    h, w = shape
    nearest = Image.Resampling.NEAREST
    cols = np.asarray(Image.fromarray(np.arange(w, dtype=np.int32)[None, :]).resize((size[0], 1), nearest))[0]
    rows = np.asarray(Image.fromarray(np.arange(h, dtype=np.int32)[:, None]).resize((1, size[1]), nearest))[:, 0]
    return rows, cols


def _small(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A mask at `size` as Image.resize(NEAREST) gives it; the editor draws ten of these per frame."""
    rows, cols = _nearest((mask.shape[0], mask.shape[1]), size)
    return np.asarray(mask).take(rows, axis=0).take(cols, axis=1).astype(np.uint8) != 0


def _small_boxed(mask: np.ndarray, size: tuple[int, int], bbox) -> tuple[np.ndarray, tuple[slice, slice]]:
    """_small(mask, size) and the (rows, cols) window of it that can be true, drawn only there; `bbox` is the
    mask's [x0, y0, x1, y1] in canvas pixels (None: empty; "unknown": the whole mask is looked at)."""
    if isinstance(bbox, str):
        return _small(mask, size), (slice(0, size[1]), slice(0, size[0]))
    out = np.zeros((size[1], size[0]), bool)
    if bbox is None:
        return out, (slice(0, 0), slice(0, 0))
    rows, cols = _nearest((mask.shape[0], mask.shape[1]), size)  # both ascending: the window is a search away
    r0, r1 = (int(v) for v in np.searchsorted(rows, [bbox[1], bbox[3]]))
    c0, c1 = (int(v) for v in np.searchsorted(cols, [bbox[0], bbox[2]]))
    box = (slice(r0, r1), slice(c0, c1))
    out[box] = np.asarray(mask).take(rows[r0:r1], axis=0).take(cols[c0:c1], axis=1) != 0
    return out, box


def _outline(mask: np.ndarray, width: int = 2) -> np.ndarray:
    """Boundary pixels of a mask, `width` pixels thick (inside the shape, so it never spills over)."""
    inner = mask.copy()
    for _ in range(width):
        e = inner.copy()
        e[1:] &= inner[:-1]
        e[:-1] &= inner[1:]
        e[:, 1:] &= inner[:, :-1]
        e[:, :-1] &= inner[:, 1:]
        inner = e
    return mask & ~inner


_THUMBS = OwnedCache(64)


def _thumb(compiled: CompiledScene, k: int, size: int) -> Image.Image:
    """Block k of I_S shrunk to `size`, kept for the identity array it came from: the editor draws the layout on
    every step of a drag, where I_S (the same array while nothing is reordered) does not change."""
    bh, _ = compiled.block_size

    def shrink() -> Image.Image:
        block = Image.fromarray(compiled.identity[k * bh:(k + 1) * bh])
        block.thumbnail((size, size), Image.Resampling.LANCZOS)
        return block

    return _THUMBS.get(compiled.identity, shrink, k, size, bh)


def _layout_panel(compiled: CompiledScene, size: tuple[int, int], thumbs: bool = True,
                  colours: list[tuple[int, int, int]] | None = None) -> Image.Image:
    """Subjects over a neutral background (or the scene's `background` photo), far first, so nearer fills cover farther
    ones as on camera.

    Thumbnails and name tags are placed after every fill, tags last, each where it covers no earlier tag or
    thumbnail: inside a subject's region when the region is large, beside it when the thumbnail would hide
    it, so a small subject keeps its outline and its full `30 lemon` tag visible."""
    cols = palette(len(compiled.order)) if colours is None else colours  # far -> near; the editor's follow names
    rgb = np.empty((size[1], size[0], 3), np.float32)
    rgb[:] = LAYOUT_BG
    photo = compiled.background
    if photo is not None:  # insertion: the layout over the user's photo, the blend region outlined in white
        rgb[:] = np.asarray(Image.fromarray(photo).resize(size, Image.Resampling.BILINEAR), np.float32)
        if compiled.blend_region is not None:  # set with the photo
            rgb[_outline(_small(compiled.blend_region, size), 1)] = 255.0
    boxes = {e["name"]: e["bbox_px"] for e in compiled.manifest.get("subjects", [])}
    small = [_small_boxed(compiled.coverage[n], size, boxes.get(n, "unknown")) for n in compiled.order]
    masks = [m for m, _ in small]
    for (m, box), c in zip(small, cols):  # each fill and outline inside the subject's box: the same pixels
        win = rgb[box]
        np.copyto(win, 0.45 * win + 0.55 * np.asarray(c, np.float32), where=m[box][..., None])
    for (m, box), c in zip(small, cols):
        pad = tuple(slice(max(0, b.start - 2), b.stop + 2) for b in box)  # _outline looks 2 pixels around
        rgb[pad][_outline(m[pad])] = np.asarray(c, np.float32) * 0.6
    img = Image.fromarray(rgb.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    tsize = max(28, min(72, size[1] // 7))
    taken: list[tuple[int, int, int, int]] = []
    tags = []
    rows, cols_at = _nearest((compiled.ir_asc.shape[0], compiled.ir_asc.shape[1]), size)
    ir_small = compiled.ir_asc.take(rows, axis=0).take(cols_at, axis=1)  # == _small(ir_asc == v) for every v
    visible = ir_small > 0
    # Nearest first: the subjects in front get the best spots (and are most often the small ones).
    for k in reversed(range(len(compiled.order))):
        name, m, c = compiled.order[k], masks[k], cols[k]
        seen = ir_small == routing_intensity(k + 1)  # tag the part a viewer sees, when there is one
        anchor = seen if seen.any() else m
        spot = mask_box(anchor)
        if spot is None:
            continue
        bx0, by0, bx1, by1 = spot
        text = f"{routing_intensity(k + 1)} {name}"
        lw, lh = _label_size(text, 13)
        if thumbs:
            t = _thumb(compiled, k, tsize)
            tw, th = t.width + 4, t.height + 4
            roomy = (bx1 - bx0) >= 1.5 * max(tw, lw) and (by1 - by0) >= 1.5 * (th + lh)
            if roomy:  # inside its own region, top-left, as before
                x, y = _place(size, tw, th + lh, [(bx0 + 3, by0 + 3)], taken)
            else:  # beside it, where it hides the least of any subject (itself included)
                beside = [(bx1 + 3, by0), (bx0 - tw - 3, by0), (bx0, by0 - th - lh - 3), (bx0, by1 + 3),
                          (bx1 + 3, by1 - th - lh), (bx0 - tw - 3, by1 - th - lh)]
                x, y = _place(size, tw, th + lh, beside, taken, visible)
            taken.append((x, y, x + tw, y + th + lh))
            draw.rectangle((x, y, x + tw - 1, y + th - 1), fill=c)
            img.paste(t, (x + 2, y + 2))
            tags.append(((x, y + th), text, c))
        else:
            x, y = _place(size, lw, lh, [(bx0 + 3, by0 + 3), (bx0, by0 - lh - 2), (bx0, by1 + 2)], taken)
            taken.append((x, y, x + lw, y + lh))
            tags.append(((x, y), text, c))
    marks = []
    for xy, text, c in tags:  # tags over every thumbnail and fill
        marks.append((text, _label(draw, xy, text, c, 13, size)))
    img.info["marks"] = {"boxes": taken, "tags": marks}  # where thumbnails and tags went (tests read it)
    return img


def _routing_panel(ir: np.ndarray, n: int, size: tuple[int, int]) -> Image.Image:
    lut = np.zeros((256, 3), np.uint8)
    lut[:] = MAP_BG
    lut[[routing_intensity(k + 1) for k in range(n)]] = palette(n)
    small = np.asarray(Image.fromarray(ir).resize(size, Image.Resampling.NEAREST))
    return Image.fromarray(lut[small])


def routing_picture(compiled: CompiledScene, size: tuple[int, int]) -> Image.Image:
    """The ascending routing map in the preview's palette (subject k's colour where 10 k is), at `size`."""
    return _routing_panel(compiled.ir_asc, len(compiled.order), size)


def _depth_lut() -> np.ndarray:
    from matplotlib import colormaps

    # turbo's first tenth is near-black: the farthest depth would vanish into the dark background
    lut = (colormaps["turbo"](np.linspace(0.12, 1.0, 256))[:, :3] * 255).astype(np.uint8)
    lut[0] = MAP_BG
    return lut


def _depth_panel(compiled: CompiledScene, size: tuple[int, int]) -> Image.Image:
    """I_T in a colour map with a scale bar labelled in metres (decoded from the 8-bit codes)."""
    bar_w = 74
    img = Image.new("RGB", (size[0] + bar_w, size[1]), SHEET_BG)
    lut = _depth_lut()
    small = np.asarray(Image.fromarray(compiled.structure).resize(size, Image.Resampling.NEAREST))
    img.paste(Image.fromarray(lut[small]), (0, 0))
    draw = ImageDraw.Draw(img)
    st = compiled.manifest["structure"]
    if st["near_m"] is None:
        draw.text((10, size[1] // 2 - 20), "no geometry given:\nI_T is 0 everywhere", font=font(15),
                  fill=(235, 235, 235))
        return img
    x0, y0, y1 = size[0] + 8, 8, size[1] - 8
    codes = np.linspace(255, 1, y1 - y0).round().astype(np.uint8)
    img.paste(Image.fromarray(np.repeat(lut[codes][:, None], 14, axis=1)), (x0, y0))
    draw.rectangle((x0, y0, x0 + 13, y1 - 1), outline=INK)
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        code = int(round(255 - frac * 254))
        metres = float(decode_depth(np.array([code]), st["near_m"], st["far_m"])[0])
        y = y0 + frac * (y1 - y0 - 1)
        draw.line((x0 + 14, y, x0 + 19, y), fill=INK)
        draw.text((x0 + 21, y - 7), f"{metres:.2f} m", font=font(11), fill=INK)
    return img


def _identity_panel(compiled: CompiledScene, box: tuple[int, int]) -> Image.Image:
    """I_S blocks in a grid that fits `box`, each tagged with its index, intensity and subject."""
    n = max(1, len(compiled.order))
    bh, bw = compiled.block_size
    best = (-1.0, 1, n)  # the first layout (s >= 0) always replaces it
    for ncol in range(1, n + 1):
        nrow = -(-n // ncol)
        s = min(box[0] / (ncol * bw), box[1] / (nrow * bh))
        if s > best[0]:
            best = (s, ncol, nrow)
    s, ncol, nrow = best
    tw, th = max(1, int(bw * s) - 4), max(1, int(bh * s) - 4)
    img = Image.new("RGB", box, SHEET_BG)
    draw = ImageDraw.Draw(img)
    cols = palette(len(compiled.order))
    for k, name in enumerate(compiled.order):
        x, y = (k % ncol) * (tw + 4), (k // ncol) * (th + 4)
        block = Image.fromarray(compiled.identity[k * bh:(k + 1) * bh]).resize((tw, th), Image.Resampling.LANCZOS)
        img.paste(block, (x, y))
        draw.rectangle((x - 1, y - 1, x + tw, y + th), outline=cols[k], width=2)
        _label(draw, (x + 2, y + 2), elide(f"#{k + 1} {routing_intensity(k + 1)} {name}", tw - 12, 12, bold=True),
               cols[k], 12, (x + tw, y + th))
    return img


def legend_lines(compiled: CompiledScene) -> list[tuple[str, str]]:
    """(`10  sofa`, `box3d, 5.62 m (geometry), visible 62%`) per subject, far to near."""
    out = []
    for entry in compiled.manifest["subjects"]:
        depth = "no depth" if entry["depth"] is None else f"{entry['depth']:.2f} m ({entry['depth_source']})"
        out.append((f"{entry['intensity']:>3}  {entry['name']}",
                    f"{entry['placement']['kind']}, {depth}, visible {100 * entry['visible_fraction']:.0f}%"))
    return out


def _legend_panel(compiled: CompiledScene, box: tuple[int, int]) -> Image.Image:
    """One row per subject; a row too long for the panel gets a smaller font, then a second line — never cut."""
    img = Image.new("RGB", box, SHEET_BG)
    draw = ImageDraw.Draw(img)
    n = len(compiled.order)
    row = max(16, min(44, box[1] // max(1, n)))
    cols = palette(n)
    lines = legend_lines(compiled)
    room = box[0] - (2 * row + 8) - 4

    def width(text: str, size: int) -> int:
        x0, _, x1, _ = _text_box(draw, text, font(size))
        return x1 - x0

    fs = max(10, min(14, row - 6))
    while fs > 10 and max(width(f"{a}  ·  {b}", fs) for a, b in lines) > room:
        fs -= 1
    two_lines = max(width(f"{a}  ·  {b}", fs) for a, b in lines) > room
    if two_lines:
        fs = max(9, min(fs, (row - 4) // 2 - 1))
    for k, (head, detail) in enumerate(lines):
        y = k * row
        draw.rectangle((0, y + 2, row - 4, y + row - 3), fill=cols[k], outline=INK)
        t = _thumb(compiled, k, row - 4)
        img.paste(t, (row + 2, y + 2))
        x = 2 * row + 8
        if two_lines:
            draw.text((x, y + row // 2 - fs - 2), elide(head, room, fs, bold=True), font=font(fs, bold=True), fill=INK)
            draw.text((x, y + row // 2), elide(detail, room, fs), font=font(fs), fill=INK)
        else:
            draw.text((x, y + (row - fs) // 2 - 1), f"{head}  ·  {detail}", font=font(fs), fill=INK)
    return img


def _titled(sheet: Image.Image, panel: Image.Image, xy: tuple[int, int], title: str) -> None:
    draw = ImageDraw.Draw(sheet)
    draw.text((xy[0], xy[1] + 6), title, font=font(15, bold=True), fill=INK)
    sheet.paste(panel, (xy[0], xy[1] + HEADER))


def _heading(compiled: CompiledScene) -> str:
    sc = compiled.scene
    name = Path(sc.file).name if sc.file else "scene"
    return (f"{name}  —  canvas {sc.canvas.width}x{sc.canvas.height}, {len(compiled.order)} subjects far→near, "
            f"identity blocks {compiled.block_size[1]}x{compiled.block_size[0]}")


def model_view_panel(compiled: CompiledScene, size: tuple[int, int]) -> tuple[Image.Image, list[str]]:
    """The collage layout image (compiler/layout_image.py) — literally the picture stock Kontext is given — fitted to
    a panel, and how each subject was cut out."""
    from .layout_image import layout_image

    layout = layout_image(compiled)
    notes = [f"{name}: {layout.sources[name]}" for name in layout.order]
    big = size[0] >= layout.rgb.shape[1]  # enlarged: nearest, so every pixel shown is one the model gets
    return layout.pil.resize(size, Image.Resampling.NEAREST if big else Image.Resampling.LANCZOS), notes


def contact_sheet(compiled: CompiledScene) -> Image.Image:
    """Layout, IR_asc, IR_desc, depth (I_T) with scale bar, legend, identity dictionary and the collage's layout
    image ("what the model sees") on one PNG."""
    pw, ph = _panel_size(compiled)
    cell_w, cell_h = pw + 74 + PAD, ph + HEADER + PAD
    width = PAD + 3 * cell_w
    warn = compiled.warnings
    warn_h = 0 if not warn else 22 + 17 * min(len(warn), 12)
    sheet = Image.new("RGB", (width, 44 + 3 * cell_h + warn_h + PAD), SHEET_BG)
    draw = ImageDraw.Draw(sheet)
    draw.text((PAD, 12), _heading(compiled), font=font(18, bold=True), fill=INK)
    top = 44
    n = len(compiled.order)
    _titled(sheet, _layout_panel(compiled, (pw, ph)), (PAD, top), "Layout: where each subject goes")
    _titled(sheet, _routing_panel(compiled.ir_asc, n, (pw, ph)), (PAD + cell_w, top),
            "IR_asc (R): nearest subject per pixel")
    _titled(sheet, _routing_panel(compiled.ir_desc, n, (pw, ph)), (PAD + 2 * cell_w, top),
            "IR_desc (G): farthest subject per pixel")
    top += cell_h
    _titled(sheet, _depth_panel(compiled, (pw, ph)), (PAD, top), "I_T (B): depth of visible surface")
    _titled(sheet, _legend_panel(compiled, (cell_w - PAD, ph)), (PAD + cell_w, top),
            "Legend: intensity ↔ subject (far→near)")
    _titled(sheet, _identity_panel(compiled, (cell_w - PAD, ph)), (PAD + 2 * cell_w, top),
            "I_S: identity dictionary, top→bottom")
    top += cell_h
    panel, cut = model_view_panel(compiled, (pw, ph))
    _titled(sheet, panel, (PAD, top), "What the model sees (collage: stock Kontext)")
    draw.text((PAD + cell_w, top + HEADER), "Cut-outs: " + ", ".join(cut), font=font(13), fill=INK)
    draw.text((PAD + cell_w, top + HEADER + 20), "matte / alpha: cut exactly; rectangle: pasted whole — add a",
              font=font(12), fill=INK)
    draw.text((PAD + cell_w, top + HEADER + 36), "`matte`, a transparent PNG, or render --segmenter DIR",
              font=font(12), fill=INK)
    if warn:
        y = top + cell_h
        draw.text((PAD, y), f"{len(warn)} warning{'s' if len(warn) > 1 else ''}:", font=font(14, bold=True),
                  fill=(170, 60, 20))
        for i, w in enumerate(warn[:12]):
            draw.text((PAD, y + 20 + 17 * i), w if len(w) < 190 else w[:187] + "...", font=font(12), fill=INK)
    return sheet


def layout_preview(compiled: CompiledScene) -> Image.Image:
    """The layout alone, larger, with reference thumbnails and a legend beside it."""
    pw, ph = _panel_size(compiled, 768)
    legend_w = 520
    sheet = Image.new("RGB", (PAD * 3 + pw + legend_w, 44 + HEADER + ph + PAD), SHEET_BG)
    ImageDraw.Draw(sheet).text((PAD, 12), _heading(compiled), font=font(16, bold=True), fill=INK)
    _titled(sheet, _layout_panel(compiled, (pw, ph)), (PAD, 44), "Layout (nearer subjects drawn on top)")
    _titled(sheet, _legend_panel(compiled, (legend_w, ph)), (2 * PAD + pw, 44), "Subjects, far → near")
    return sheet
