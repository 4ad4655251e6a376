""""Asked vs got" as one picture: the layout asked for | its routing map | the render, side by side.

The demo model renders 64 px images, which a viewer shows as a postage stamp, and comparing the preview with the
render meant opening two files of different sizes. This sheet puts the three at one readable size: the layout is
drawn at that size, the routing map and the render are upscaled with nearest-neighbour (no smoothing, so every
model pixel stays visible as what it is). The render file itself keeps its true size.
"""

from __future__ import annotations

from PIL import Image, ImageDraw

from .compiled import CompiledScene
from .preview import HEADER, PAD, SHEET_BG, INK, _heading, _layout_panel, _titled, font, routing_picture

SHEET_PANEL = 384  # longer side of each panel, pixels: readable on any screen, small as a file


def _panel_size(width: int, height: int, long_side: int = SHEET_PANEL) -> tuple[int, int]:
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def render_sheet(compiled: CompiledScene, image: Image.Image, note: str | None = None) -> Image.Image:
    """layout asked for | routing map (IR_asc) | render, each at SHEET_PANEL on its long side; `note` is a line
    under the heading (which model made the render)."""
    size = _panel_size(image.width, image.height)
    layout = _layout_panel(compiled, size, thumbs=False)
    routing = routing_picture(compiled, size)  # nearest-neighbour: each map pixel a block
    render = image.convert("RGB").resize(size, Image.Resampling.NEAREST)
    top = 44 + (20 if note else 0)
    sheet = Image.new("RGB", (PAD + 3 * (size[0] + PAD), top + HEADER + size[1] + PAD), SHEET_BG)
    draw = ImageDraw.Draw(sheet)
    draw.text((PAD, 12), _heading(compiled), font=font(16, bold=True), fill=INK)
    if note:
        draw.text((PAD, 38), note, font=font(13), fill=INK)
    _titled(sheet, layout, (PAD, top), "Asked: the layout")
    _titled(sheet, routing, (2 * PAD + size[0], top), "Routing map (IR_asc)")
    _titled(sheet, render, (3 * PAD + 2 * size[0], top), f"Got: the render ({image.width}x{image.height}, "
            f"shown x{size[0] / image.width:.0f})")
    return sheet
