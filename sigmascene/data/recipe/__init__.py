"""`data build`: the SIGMA-SET27K recipe as a resumable pipeline of real models read from local folders
(prompts -> text-to-image -> grounded segmentation -> depth -> Kontext identity images -> filters -> boxes),
on one machine or on a Ray cluster. docs/dataset-build.md describes the recipe and the models.
"""

from .build import BuildReport, run_build
from .config import BuildConfig
from .config_file import load_config, validate_config, write_default

__all__ = ["BuildConfig", "BuildReport", "load_config", "run_build", "validate_config", "write_default"]
