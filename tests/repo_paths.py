"""Where the repository's test inputs live; imported by test modules (`from repo_paths import EXAMPLES`), since each
test group has a conftest of its own and `import conftest` would be ambiguous."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
