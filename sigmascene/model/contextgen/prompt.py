"""The Kontext edit template ContextGen wraps every caption in, at training and at inference.

The model only ever saw captions inside this sentence, so the same caption without it is out of distribution.
"""

from __future__ import annotations

#: Leading phrases ContextGen strips (case-insensitive, first match only) before quoting the caption.
STRIPPED_PREFIXES = ("a photo of ", "an image of ", "a picture of ")

TEMPLATE = ("Modify the image to depict '{caption}'. While preserving the original layout, key object features "
            "and human identities (including facial details), adjust element poses for better composition and "
            "naturally fill in the background. Ensure the result appears natural and visually harmonious.")


def edit_prompt(caption: str) -> str:
    """The prompt ContextGen's text encoders get for `caption` (nothing else is normalised: a trailing period
    stays inside the quotes, as in theirs)."""
    for prefix in STRIPPED_PREFIXES:
        if caption.lower().startswith(prefix):
            caption = caption[len(prefix):].strip()
            break
    return TEMPLATE.format(caption=caption)
