"""Renderers turn placements into per-subject pixel coverage (and depth) on the canvas.

`raster` draws the flat placements (2D boxes, masks, polygons) with Pillow/numpy; `pyrender3d` draws 3D boxes
and meshes through the scene camera with pyrender. Both share the pinhole model in `geometry`, so a test can
check a render against the projection formula, and the data tools can fit boxes in the same convention.
"""
