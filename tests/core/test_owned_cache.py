"""OwnedCache: a value is reused only for the very object it was computed from, and the oldest entries go first."""

from __future__ import annotations

import numpy as np

from sigmascene.core.owned_cache import OwnedCache


def test_a_value_is_kept_for_the_same_object_and_key_only():
    cache = OwnedCache(8)
    calls: list[str] = []
    a, twin = np.zeros(4), np.zeros(4)  # equal contents, another object
    assert cache.get(a, lambda: calls.append("a") or 1, "k") == 1
    assert cache.get(a, lambda: calls.append("a again") or 2, "k") == 1
    assert cache.get(a, lambda: calls.append("other key") or 3, "other") == 3
    assert cache.get(twin, lambda: calls.append("twin") or 4, "k") == 4
    assert calls == ["a", "other key", "twin"]


def test_the_least_recently_used_entry_is_dropped_first():
    cache = OwnedCache(2)
    objs = [object() for _ in range(3)]
    for i, o in enumerate(objs[:2]):
        cache.get(o, lambda i=i: i)
    cache.get(objs[0], lambda: -1)  # a hit: objs[0] is now the newest
    cache.get(objs[2], lambda: 2)  # over the size: objs[1] goes
    assert cache.get(objs[0], lambda: -1) == 0
    assert cache.get(objs[1], lambda: 10) == 10
