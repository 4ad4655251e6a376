"""CompiledScene is defined on the scene floor (sigmascene/scene/compiled.py) so the model may import it too; the
compiler re-exports it under its old address."""

from ..scene.compiled import GENERATOR, OUTPUT_FILES, CompiledScene

__all__ = ["GENERATOR", "OUTPUT_FILES", "CompiledScene"]
