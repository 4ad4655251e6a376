"""Renderers turn placements into per-subject pixel coverage (and depth) on the canvas.

`raster` gives the flat shapes' coverage (each placement kind draws its own with numpy, scene/kinds/; mask files
are loaded by the compiler);
`pyrender3d` draws 3D boxes and meshes through the scene camera with pyrender. Both share the pinhole model in
`camera`, so a test can check a render against the projection formula, and the data tools (`data/geometry.py`)
build on the same functions.
"""
