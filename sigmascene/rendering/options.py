"""`RenderOptions` is the old name of the render request (rendering/request.py); it stays so callers written
against it keep working."""

from __future__ import annotations

from .request import RenderRequest

RenderOptions = RenderRequest

__all__ = ["RenderOptions", "RenderRequest"]
