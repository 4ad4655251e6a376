"""The numbers the SIGMA maps are made of, in one place, so every floor reads them from the ground.

The compiler writes subject k (1-based, far to near) as routing intensity 10·k; the trainer, the iterative
baseline, the previews, the depth metric and the toy-world eval read that value back. Written out in each of them,
a change in one would silently desynchronise the maps a model was trained on from the maps it is given. The same
holds for the subject limit the routing map can hold in 8 bits, which option parsers check before any work starts,
and for the 16-pixel grid every canvas and identity block is aligned to.
"""

from __future__ import annotations

from ..errors import ConfigError

ROUTING_STEP = 10  # subject k (1-based, far to near) has routing intensity ROUTING_STEP * k; background is 0
MAX_SUBJECTS = 25  # ROUTING_STEP * MAX_SUBJECTS = 250 still fits in one 8-bit channel
TOKEN_PIXELS = 16  # one latent token covers 16x16 pixels (VAE factor 8 x patch 2): canvases and blocks align to it


def routing_intensity(k: int) -> int:
    """The routing value of subject `k`, counted 1-based far to near (0 is the background)."""
    return ROUTING_STEP * k


def subject_of(intensity: int) -> int:
    """The 1-based subject index a routing value belongs to (0: background)."""
    return int(intensity) // ROUTING_STEP


def parse_subject_counts(text: str, *, lists: bool = True) -> list[int]:
    """`--subjects`: `N`, `LOW-HIGH` or (with `lists`) `N,M,...` into sorted subject counts within the limit.

    Every command that takes a number of subjects parses it here, so `5-2` or `1-40` is refused with the same
    one-line message before any model loads or any sample renders.
    """
    text = str(text).strip()
    example = "1-10, 4 or 1,2,5" if lists else "1-10 or 4"
    try:
        if "," in text and lists:
            counts = sorted({int(v) for v in text.split(",") if v.strip()})
        elif "-" in text[1:]:
            lo, hi = (int(v) for v in text.split("-", 1))
            counts = list(range(lo, hi + 1))
        else:
            counts = [int(text)]
    except ValueError:
        raise ConfigError(f"--subjects {text} is not a count or a range", hint=f"for example: {example}") from None
    if not counts:
        raise ConfigError(f"--subjects {text} is an empty range", hint="write LOW-HIGH with LOW <= HIGH, e.g. 1-10")
    if counts[0] < 1 or counts[-1] > MAX_SUBJECTS:
        raise ConfigError(f"--subjects {text}: subject counts must lie in 1-{MAX_SUBJECTS} "
                          f"(the routing map holds {MAX_SUBJECTS})")
    return counts


def parse_subject_range(text: str) -> tuple[int, int]:
    """`--subjects` as the (MIN, MAX) range a generator draws from: `N` or `MIN-MAX`."""
    counts = parse_subject_counts(text, lists=False)
    return counts[0], counts[-1]
