"""Keep Python's cycle collector off the editor's hot path.

The editor process holds every module it imported (diffusers and torch, once the method list or a render has
loaded them): half a million objects. A full collection walks all of them, about a quarter of a second on the
2-core machine, and it lands inside whichever compile allocated last — a drag stalls. Objects that exist once
the imports are done live as long as the process, so `settle` collects once and moves them to the permanent
generation (`gc.freeze`), where collections no longer look at them. It runs again whenever more modules were
imported since, so a lazy import is frozen too; what is frozen is only what survived a full collection.
"""

from __future__ import annotations

import gc
import sys
import threading

_lock = threading.Lock()
_modules_seen = 0


def settle() -> bool:
    """Collect and freeze when modules were imported since the last call; True when it did."""
    global _modules_seen
    with _lock:
        if len(sys.modules) == _modules_seen:
            return False
        gc.collect()
        gc.freeze()
        _modules_seen = len(sys.modules)
        return True
