"""A small LRU of values computed from one object (a mask, an image array, a mesh, a compiled scene), kept while
the entry holds that very object.

Keys are the object's id plus whatever else the value depends on; a hit also checks identity, and the entry holds
the object, so an id Python hands to a new object after the old one died can never return a stale value. The
editor's drag reuses such values from one compile (or frame) to the next."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable, TypeVar

T = TypeVar("T")


class OwnedCache:
    def __init__(self, size: int):
        self._size = size
        self._items: OrderedDict[tuple, tuple[object, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, owner: object, compute: Callable[[], T], *key: Hashable) -> T:
        """compute()'s value for `owner` and `key`, computed once while the entry lives (outside the lock)."""
        k = (id(owner), *key)
        with self._lock:
            hit = self._items.get(k)
            if hit is not None and hit[0] is owner:
                self._items.move_to_end(k)
                return hit[1]
        value = compute()
        with self._lock:
            self._items[k] = (owner, value)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value
