"""LoRA on SigmaPipeline the diffusers way, plus the one fact SIGMA must track: which adapters vouch for the mask.

Every file goes in through diffusers' own `FluxLoraLoaderMixin` (the loader `FluxKontextPipeline` uses), so kohya,
xlabs, BFL, network-alpha, DoRA, `rank_pattern` and text-encoder LoRAs load exactly as in stock diffusers, and the
adapter API (`set_adapters`, `fuse_lora`, `unload_lora_weights`, ...) is diffusers'. This mixin only adds what
diffusers cannot know or does not say loudly enough:

* each adapter's `LoraInfo` (sigmascene metadata: condition mask, training config hash; its weight), so the
  condition cache runs only when every active adapter was trained with the condition mask;
* a LoRA for another base size is one short `ModelError` with a hint (diffusers prints a 30-line size dump);
* keys that match no layer, or layers left without weights, are a `LoraKeysWarning` (an error with `strict=True`),
  not a log line that a quiet logger swallows;
* a load that fails leaves the pipeline exactly as it was: the half-made adapter is removed and the previously
  active adapters and weights come back.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from diffusers.loaders import FluxLoraLoaderMixin

from ..errors import ModelError
from .lora import LoraInfo, check_lora_file, info_from_state_dict, read_lora_info
from .lora_fit import COMPONENT_PREFIXES, check_fits, check_values, lora_down_weights, norm_keys, unapplied



class LoraKeysWarning(UserWarning):
    """A LoRA loaded, but some of its keys matched no layer of the base, or some adapted layers got no weights."""


class SigmaLoraLoaderMixin(FluxLoraLoaderMixin):
    """diffusers' Flux LoRA loader with per-adapter SIGMA facts; see the module docstring."""

    def _lora_state(self) -> dict[str, Any]:
        state = self.__dict__.setdefault("_sigma_lora", None)
        if state is None:
            state = {"infos": {}, "fused": {}, "disabled": False}
            self.__dict__["_sigma_lora"] = state
        return state

    @property
    def lora_infos(self) -> dict[str, LoraInfo]:
        """adapter name -> LoraInfo of every adapter loaded (active or not), in load order."""
        return self._lora_state()["infos"]

    @property
    def lora_info(self) -> LoraInfo | None:
        """The most recently loaded adapter's info (the one LoRA of a plain SIGMA render)."""
        infos = list(self.lora_infos.values())
        return infos[-1] if infos else None

    def active_lora_infos(self) -> list[LoraInfo]:
        """Infos of what currently changes the output: active adapters with a non-zero weight, and fused ones."""
        state = self._lora_state()
        out = list(state["fused"].values())
        if state["disabled"] or not self.lora_infos:
            return out
        active = set(self.get_active_adapters())
        for name, info in self.lora_infos.items():
            if name in active and info.weight != 0 and name not in state["fused"]:
                out.append(info)
        return out

    @property
    def condition_mask(self) -> bool:
        """Whether conditions may attend only to conditions: every LoRA in effect was trained that way."""
        infos = self.active_lora_infos()
        return bool(infos) and all(i.condition_mask for i in infos)

    def mask_refusal(self) -> str:
        """Why the condition cache is refused (for the error message), or "" when it is allowed."""
        infos = self.active_lora_infos()
        if not infos:
            return "no LoRA is loaded" if not self.lora_infos else "no LoRA is active"
        bad = [i for i in infos if not i.condition_mask]
        if not bad:
            return ""
        i = bad[0]
        why = "has no sigmascene metadata" if not i.sigma else "was trained without the condition mask"
        return f"the LoRA {i.path or i.adapter_name} {why}, so it cannot vouch for the condition mask"

    def check_input_width(self) -> None:
        """Refuse to render with a transformer whose input a Flux Control LoRA widened (Canny/Depth: latents plus
        a control image's latents, channel-stacked). The LoRA loads exactly as in diffusers, but SIGMA feeds only
        latents, so the widened layer would fail deep inside the first step."""
        expected = 4 * self.vae.config.latent_channels
        got = self.transformer.config.in_channels
        if got != expected:
            raise ModelError(f"the transformer takes {got} input channels, SIGMA supplies {expected}: a Flux Control "
                             "LoRA (Canny/Depth) widened its input for a control image",
                             hint="unload it with unload_lora_weights(reset_to_overwritten_params=True), or render "
                                  "without that LoRA")

    # -- loading -----------------------------------------------------------------------------------------------
    def load_lora_weights(self, pretrained_model_name_or_path_or_dict: str | Path | dict,
                          adapter_name: str | None = None, hotswap: bool = False, *, strict: bool = False,
                          **kwargs: Any) -> LoraInfo:
        """`FluxKontextPipeline.load_lora_weights`, plus: returns the adapter's LoraInfo, refuses a LoRA made for
        another base size in one line, warns (or with `strict` refuses) about unmatched keys, and undoes a
        failed load completely."""
        from diffusers.utils.peft_utils import get_adapter_name

        src = pretrained_model_name_or_path_or_dict
        if isinstance(src, Path):
            src = str(src)
        src = _resolve(src, kwargs.pop("weight_name", None), kwargs.pop("subfolder", None))  # one file (or a dict)
        label = "state dict" if isinstance(src, dict) else src
        info = _describe(src)
        try:
            state_dict = self.lora_state_dict(dict(src) if isinstance(src, dict) else src,
                                              **{k: v for k, v in kwargs.items() if k in _STATE_DICT_KWARGS})
        except (ValueError, OSError, KeyError, RuntimeError, TypeError, AssertionError) as err:
            raise ModelError(f"{label} is not a LoRA diffusers can read: {_first_line(err)}",
                             hint=_family_hint(info)) from None
        if not any("lora" in k for k in state_dict):
            raise ModelError(f"{label} holds no LoRA weights (no `lora` keys after diffusers' conversions)")
        check_values(state_dict, label)
        check_fits(self, state_dict, label)
        name = adapter_name or get_adapter_name(self.transformer)
        if not hotswap and name in self.lora_infos:
            raise ModelError(f"adapter name {name!r} is already in use",
                             hint="pass another adapter_name, or delete_adapters it first")
        before = self._snapshot(state_dict)
        try:
            super().load_lora_weights(src, adapter_name=name, hotswap=hotswap, **kwargs)
        except Exception as err:  # noqa: BLE001 - any failure must leave the pipeline as it was
            self._restore(before, name)
            raise ModelError(f"could not load LoRA {label}: {_first_line(err)}") from None
        if not any(name in (getattr(getattr(self, c, None), "peft_config", None) or {}) for c in COMPONENT_PREFIXES):
            self._restore(before, name)  # stock diffusers accepts it and changes nothing
            raise ModelError(f"nothing in LoRA {label} applies to this pipeline ({unapplied(self, state_dict, name)})",
                             hint=_family_hint(info) or "use a LoRA trained for Flux (Kontext)")
        problems = unapplied(self, state_dict, name)
        if problems and strict:
            self._restore(before, name)
            raise ModelError(f"LoRA {label}: {problems}", hint="load without strict to accept it anyway")
        if problems:
            warnings.warn(f"LoRA {label}: {problems}", LoraKeysWarning, stacklevel=2)
            info.warnings.append(problems)
        info.adapter_name, info.weight = name, 1.0
        self.lora_infos[name] = info
        return info

    def _snapshot(self, state_dict: dict[str, Any]) -> dict[str, Any]:
        """What a load may change besides adding the adapter: which adapters were active with which weights, and
        for a Flux Control LoRA the transformer's own weights — its norm layers are loaded in place and a layer it
        widens (x_embedder) is swapped for a wider one — so `_restore` can put all of it back."""
        names = list(self.lora_infos)
        active = set(self.get_active_adapters()) if names else set()
        tr = self.transformer
        params = tr.state_dict()
        norms = {k: params[k].detach().clone() for k in norm_keys(self, state_dict) if k in params}
        widened = {}
        for mod_name, v in lora_down_weights(state_dict, "transformer"):
            try:
                layer = tr.get_submodule(mod_name)
            except AttributeError:
                continue
            if isinstance(layer, torch.nn.Linear) and v.shape[1] > layer.in_features:
                widened[mod_name] = layer
        return {"active": [n for n in names if n in active], "weights": {n: self.lora_infos[n].weight for n in names},
                "disabled": self._lora_state()["disabled"], "norms": norms, "widened": widened,
                "config": {"in_channels": tr.config.in_channels},
                "attrs": {a: getattr(tr, a, None) for a in ("_transformer_norm_layers", "_overwritten_params")}}

    def _restore(self, before: dict[str, Any], name: str) -> None:
        """Remove every trace of adapter `name`, undo what it changed in the transformer itself, and reinstate
        the adapters that were active, with their weights."""
        from diffusers.utils.peft_utils import delete_adapter_layers

        for comp_name in COMPONENT_PREFIXES:
            comp = getattr(self, comp_name, None)
            if comp is not None and name in (getattr(comp, "peft_config", None) or {}):
                if hasattr(comp, "delete_adapters"):
                    comp.delete_adapters(name)
                else:
                    delete_adapter_layers(comp, name)
                    comp.peft_config.pop(name, None)
            if comp is not None and not getattr(comp, "peft_config", None):
                _unwrap(comp)  # it had no adapter before: its layers lose peft's wrappers too
        tr = self.transformer
        for mod_name, layer in before["widened"].items():
            parent, _, child = mod_name.rpartition(".")
            setattr(tr.get_submodule(parent) if parent else tr, child, layer)
        for key, value in before["config"].items():
            setattr(tr.config, key, value)
        if before["norms"]:
            tr.load_state_dict(before["norms"], strict=False)
        for attr, value in before["attrs"].items():
            setattr(tr, attr, value)
        if before["active"]:
            super().set_adapters(before["active"], [before["weights"][n] for n in before["active"]])
        if before["disabled"]:
            super().disable_lora()

    # -- the adapter API: diffusers' behaviour, SIGMA's bookkeeping -------------------------------------------------
    def set_adapters(self, adapter_names: str | list[str], adapter_weights: Any = None) -> None:
        super().set_adapters(adapter_names, adapter_weights)
        names = [adapter_names] if isinstance(adapter_names, str) else list(adapter_names)
        if adapter_weights is None:
            weights = [1.0] * len(names)
        elif isinstance(adapter_weights, list):
            weights = adapter_weights + [1.0] * (len(names) - len(adapter_weights))
        else:
            weights = [adapter_weights] * len(names)
        for n, w in zip(names, weights):
            if n in self.lora_infos:
                self.lora_infos[n].weight = float(w) if isinstance(w, (int, float)) else w
        self._lora_state()["disabled"] = False

    def delete_adapters(self, adapter_names: str | list[str]) -> None:
        super().delete_adapters(adapter_names)
        for n in [adapter_names] if isinstance(adapter_names, str) else adapter_names:
            self.lora_infos.pop(n, None)

    def unload_lora_weights(self, reset_to_overwritten_params: bool = False) -> None:
        super().unload_lora_weights(reset_to_overwritten_params=reset_to_overwritten_params)
        self.lora_infos.clear()
        self._lora_state()["disabled"] = False

    def fuse_lora(self, components: list[str] = ["transformer"], lora_scale: float = 1.0,  # noqa: B006 - diffusers' signature
                  safe_fusing: bool = False, adapter_names: list[str] | None = None, **kwargs: Any) -> None:
        super().fuse_lora(components=components, lora_scale=lora_scale, safe_fusing=safe_fusing,
                          adapter_names=adapter_names, **kwargs)
        names = adapter_names or [n for n in self.get_active_adapters() if n in self.lora_infos]
        self._lora_state()["fused"].update({n: self.lora_infos[n] for n in names if n in self.lora_infos})

    def unfuse_lora(self, components: list[str] = ["transformer", "text_encoder"], **kwargs: Any) -> None:  # noqa: B006 - diffusers' signature
        super().unfuse_lora(components=components, **kwargs)
        self._lora_state()["fused"].clear()

    def disable_lora(self) -> None:
        super().disable_lora()
        self._lora_state()["disabled"] = True

    def enable_lora(self) -> None:
        super().enable_lora()
        self._lora_state()["disabled"] = False


_STATE_DICT_KWARGS = ("weight_name", "subfolder", "local_files_only", "use_safetensors", "cache_dir", "revision",
                      "token", "proxies", "force_download")


def _first_line(err: BaseException) -> str:
    """One readable line from a library's exception: a KeyError names the missing tensor, a heading that ends in
    ':' keeps its first detail, and diffusers' "please open an issue" boilerplate is dropped."""
    if isinstance(err, KeyError) and err.args:
        return f"the tensor {err.args[0]!r} is missing"
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    text = lines[0]
    if text.endswith(":") and len(lines) > 1:
        text = f"{text} {lines[1]}"
    text = text.split(" If you think this error is unexpected")[0]
    return text if len(text) <= 300 else text[:297] + "..."


_SD_MARKS = ("down_blocks", "up_blocks", "mid_block", "unet", "lora_te2_", "input_blocks", "output_blocks")


def _family_hint(info: LoraInfo) -> str | None:
    """A hint when the file's layer names say it was made for a Stable Diffusion UNet, not for Flux."""
    if any(mark in m for m in info.target_modules for mark in _SD_MARKS):
        return "its layer names are a Stable Diffusion UNet's (down_blocks / up_blocks / unet); sigmascene " \
               "renders with Flux Kontext and needs a Flux LoRA"
    return None


def _resolve(src: Any, weight_name: str | None, subfolder: str | None = None) -> Any:
    """The one file a path names (a dict stays a dict). For a folder without `weight_name`: diffusers' default
    name, else its only .safetensors, else the old `pytorch_lora_weights.bin` — decided here, once, so the file
    described is the file loaded (diffusers would take the first of several in directory order)."""
    if isinstance(src, dict):
        return src
    path = Path(src).expanduser()
    if subfolder and path.is_dir():
        path = path / subfolder
    if path.is_dir() and weight_name:
        path = path / weight_name
    elif path.is_dir():
        default = path / "pytorch_lora_weights.safetensors"
        files = sorted(f for f in path.glob("*.safetensors")
                       if not any(w in f.name for w in ("scheduler", "optimizer", "checkpoint")))
        pickled = path / "pytorch_lora_weights.bin"
        if default.is_file() or len(files) == 1:
            path = default if default.is_file() else files[0]
        elif not files and pickled.is_file():
            path = pickled
        else:
            shown = ", ".join(f.name for f in files[:3]) + (", ..." if len(files) > 3 else "")
            many = f"{len(files)} LoRA files ({shown})"
            raise ModelError(f"{path} is a folder with {many if files else 'no LoRA file'} in it",
                             hint="pass the file itself, or weight_name=FILE")
    check_lora_file(path)
    return str(path)


def _describe(src: Any) -> LoraInfo:
    """The LoraInfo of what is being loaded: a file's metadata (sigmascene's or the defaults of a foreign LoRA)."""
    if isinstance(src, dict):
        return info_from_state_dict(src, meta={}, path=None)
    return read_lora_info(src)


def _unwrap(component: Any) -> None:
    """Put back the plain layers peft wrapped, as diffusers' `unload_lora_weights` does for a component."""
    from diffusers.utils import recurse_remove_peft_layers

    recurse_remove_peft_layers(component)
    if hasattr(component, "peft_config"):
        del component.peft_config
    if hasattr(component, "_hf_peft_config_loaded"):
        component._hf_peft_config_loaded = None
