"""`sigmascene edit`: a browser editor that reads and writes the same `.sigma` file.

The server (app.py) keeps the file's text as the one truth: every picture edit becomes a small change to the text
at the span the parser recorded for the value (edits.py), so comments, `$params` and includes survive.
"""

from .app import create_app

__all__ = ["create_app"]
