"""Identity filter: each subject's cut-out and its reposed image, embedded by DINOv2 / SigLIP / CLIP from a
local folder; their cosine similarity must sit in a band — below `min_similarity` the edit drew another object,
above `max_similarity` it did not repose anything (a copy would teach the model to paste pixels).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..store import Outcome
from .base import Stage, Work

if TYPE_CHECKING:
    from ..config import IdentityStage as IdentitySection


class IdentityStage(Stage):
    name = "identity"
    section: IdentitySection  # the [stages.identity] table

    def load(self) -> None:
        from transformers import AutoImageProcessor, AutoModel

        from ....model.loading import quiet_libraries
        from ..models import find

        quiet_libraries()
        self.dev, self.dtype = self.device_dtype()
        ref = find(self.plan.refs, "identity", "embedder")
        self.m_proc = AutoImageProcessor.from_pretrained(str(ref.path))
        self.m_model = AutoModel.from_pretrained(str(ref.path), dtype=self.dtype).to(self.dev).eval()

    def embed(self, images: list) -> np.ndarray:
        import torch

        inp = self.m_proc(images=images, return_tensors="pt")
        pix = inp["pixel_values"].to(self.dev, self.dtype)
        with torch.no_grad():
            if hasattr(self.m_model, "get_image_features"):  # CLIP / SigLIP: the projected image embedding
                feats = self.m_model.get_image_features(pixel_values=pix)
                feats = getattr(feats, "pooler_output", feats)
            else:  # DINOv2 and plain ViTs: the pooled CLS token
                out = self.m_model(pixel_values=pix)
                pooled = getattr(out, "pooler_output", None)
                feats = pooled if pooled is not None else out.last_hidden_state[:, 0]
        feats = torch.nn.functional.normalize(feats.float(), dim=-1)
        return feats.cpu().numpy()

    def process(self, works: list[Work]) -> list[Outcome]:
        s = self.section
        out = []
        for w in works:
            names = [x["name"] for x in w.scene["subjects"]]
            rep = w.inputs["repose"]
            images = [rep.image(f"{n}_cutout.png") for n in names] + [rep.image(f"{n}_identity.png") for n in names]
            e = self.embed(images)
            sims = {n: round(float(e[k] @ e[k + len(names)]), 6) for k, n in enumerate(names)}
            verdict = Outcome(data={"similarity": sims})
            for n, v in sims.items():
                if v < s.min_similarity:
                    verdict = Outcome.reject("identity.too_different", f"'{n}': reposed image is another object "
                                                                       f"(similarity {v:.3f} < {s.min_similarity:g})")
                    break
                if v > s.max_similarity:
                    verdict = Outcome.reject("identity.not_reposed", f"'{n}': identity image is a copy, not reposed "
                                                                     f"(similarity {v:.3f} > {s.max_similarity:g})")
                    break
            verdict.data["similarity"] = sims
            out.append(verdict)
        return out
