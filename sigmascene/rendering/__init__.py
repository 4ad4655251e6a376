"""Rendering a compiled scene: what a render is asked for (options.py), the library call behind `render`, eval and
the editor (render.py), and the reproducibility sidecar (rendering/provenance.py)."""
