"""Renderers turn placements into per-subject pixel coverage (and depth) on the canvas.

`raster` draws the flat shapes (2D boxes, polygons; mask files are loaded by the compiler) with numpy;
`pyrender3d` draws 3D boxes and meshes through the scene camera with pyrender. Both share the pinhole model in
`camera`, so a test can check a render against the projection formula, and the data tools (`data/geometry.py`)
build on the same functions.
"""
