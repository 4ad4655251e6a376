"""What a LoRA file does to this base, checked around diffusers' loader: whether its layers fit the base's sizes
(before anything is touched), which of its layers were applied (after), and which of the transformer's own
weights a Flux Control LoRA writes in place (so a failed load can put them back).

diffusers only logs these facts, and a quiet logger hides them; SigmaPipeline turns them into one-line errors
and `LoraKeysWarning`s (see adapters.py).
"""

from __future__ import annotations

from typing import Any

from ..errors import ModelError

COMPONENT_PREFIXES = ("transformer", "text_encoder")


def _module_names(state_dict: dict[str, Any], prefix: str) -> set[str]:
    head = prefix + "."
    return {k[len(head):].split(".lora_")[0] for k in state_dict if k.startswith(head) and ".lora_" in k}


def lora_down_weights(state_dict: dict[str, Any], prefix: str) -> list[tuple[str, Any]]:
    """(module name, lora_A weight) of every 2-D LoRA down-projection for one component."""
    import torch

    head, out = prefix + ".", []
    for k, v in state_dict.items():
        mod_name, _, kind = k[len(head):].partition(".lora_")
        if k.startswith(head) and kind == "A.weight" and torch.is_tensor(v) and v.ndim == 2:
            out.append((mod_name, v))
    return out


def norm_keys(pipe: Any, state_dict: dict[str, Any]) -> list[str]:
    """Transformer parameter names a Flux Control LoRA overwrites directly (its QK-norm scales), unprefixed."""
    norm_names = getattr(pipe, "_control_lora_supported_norm_keys", ())
    head = "transformer."
    return [k[len(head):] for k in state_dict
            if k.startswith(head) and "lora" not in k and any(n in k for n in norm_names)]


def _has_module(component: Any, dotted: str) -> bool:
    try:
        component.get_submodule(dotted)
    except AttributeError:
        return False
    return True


def _text_encoder_module_names(state_dict: dict[str, Any], prefix: str, component: Any) -> set[str]:
    """The text-encoder layers a file names, normalised key by key the way diffusers' text-encoder loader
    normalises the whole dict (old `to_q_lora` / `lora_linear_layer` names -> peft's, `text_model.` dropped
    for a flattened CLIP). Per key, because diffusers guesses one naming for the whole dict and so drops the
    layers of a file that mixes two (kohya's text encoder LoRAs do) — which is what must be reported."""
    from diffusers.utils.state_dict_utils import DIFFUSERS_OLD_TO_PEFT, DIFFUSERS_TO_PEFT, convert_state_dict

    head, flat, names = prefix + ".", not hasattr(component, "text_model"), set()
    for k, v in state_dict.items():
        if not k.startswith(head):
            continue
        key = k[len(head):]
        for mapping in (DIFFUSERS_TO_PEFT, DIFFUSERS_OLD_TO_PEFT):
            key = next(iter(convert_state_dict({key: v}, mapping)))
        if flat:
            key = key.removeprefix("text_model.")
        if ".lora_" in key:
            names.add(key.split(".lora_")[0])
    return names


def _linear(module: Any) -> Any:
    return getattr(module, "base_layer", module)


def check_fits(pipe: Any, state_dict: dict[str, Any], label: str) -> None:
    """Shapes of the LoRA against the base's layers, before anything is touched: one line for a LoRA that was
    trained on another base size (diffusers would fail deep inside peft with a size dump per layer)."""
    import torch

    for prefix in COMPONENT_PREFIXES:
        comp = getattr(pipe, prefix, None)
        if comp is None:
            continue
        bad, example = 0, None
        for k, v in state_dict.items():
            if not k.startswith(prefix + ".") or not torch.is_tensor(v) or v.ndim != 2:
                continue
            mod_name, _, kind = k[len(prefix) + 1:].partition(".lora_")
            try:
                layer = _linear(comp.get_submodule(mod_name))
            except AttributeError:
                continue  # an unknown layer is a key warning, below, not a size error
            if not hasattr(layer, "in_features"):
                continue
            if kind.startswith("A.") and v.shape[1] != layer.in_features:
                if mod_name == "x_embedder" and v.shape[1] > layer.in_features:
                    continue  # a Flux Control LoRA widens the input; diffusers expands the layer itself
                bad += 1
                example = example or (mod_name, "input", v.shape[1], layer.in_features)
            elif kind.startswith("B.") and v.shape[0] != layer.out_features:
                bad += 1
                example = example or (mod_name, "output", v.shape[0], layer.out_features)
        if bad and example is not None:  # example: the first misfit, set with the first `bad`
            mod, side, lora_n, base_n = example
            raise ModelError(f"LoRA {label} was trained for another base model: its {prefix} layer {mod} has "
                             f"{side} size {lora_n}, this base's has {base_n} ({bad} tensors do not fit)",
                             hint="use the base model the LoRA was trained on (--base); the demo LoRA fits only "
                                  "the demo base, a Flux Kontext LoRA only a full-size Kontext base")


def unapplied(pipe: Any, state_dict: dict[str, Any], name: str) -> str:
    """LoRA layers in the file that found no layer in the base, and layers adapted without weights from it."""
    parts = []
    for prefix in COMPONENT_PREFIXES:
        comp = getattr(pipe, prefix, None)
        wanted = _module_names(state_dict, prefix)
        if comp is None:
            if wanted:
                parts.append(f"{len(wanted)} {prefix} layers ignored (the pipeline has no {prefix})")
            continue
        if prefix != "transformer":
            wanted = _text_encoder_module_names(state_dict, prefix, comp)
        got = {n for n, m in comp.named_modules() if name in (getattr(m, "lora_A", None) or {})}
        unexpected, missing = sorted(wanted - got), sorted(got - wanted)
        absent = [n for n in unexpected if not _has_module(comp, n)]
        dropped = [n for n in unexpected if n not in absent]
        if absent:
            parts.append(f"{len(absent)} {prefix} layers match nothing in this base (e.g. {absent[0]})")
        if dropped:
            parts.append(f"{len(dropped)} {prefix} layers were not applied by diffusers although this base has "
                         f"them (e.g. {dropped[0]})")
        if missing:
            parts.append(f"{len(missing)} {prefix} layers were adapted without weights in the file "
                         f"(e.g. {missing[0]})")
    tr = pipe.transformer
    if tr is not None:
        params = tr.state_dict()
        stray = sorted(k for k in norm_keys(pipe, state_dict) if k not in params)
        if stray:
            parts.append(f"{len(stray)} transformer norm tensors match nothing in this base (e.g. {stray[0]})")
    other = sorted({k.split(".")[0] for k in state_dict if "lora" in k and not k.startswith(
        tuple(p + "." for p in COMPONENT_PREFIXES))})
    if other:
        parts.append(f"keys for {', '.join(other)} were ignored")
    return "; ".join(parts)


def check_values(state_dict: dict[str, Any], label: str) -> None:
    """LoRA tensors that can only break a render: integer tensors (a damaged file or not a LoRA), and NaN or
    infinite values (a damaged file or a diverged run) — stock diffusers loads the latter and renders blank."""
    import torch

    integers = [k for k, v in state_dict.items() if "lora" in k and torch.is_tensor(v) and not v.is_floating_point()]
    if integers:
        raise ModelError(f"LoRA {label} holds {state_dict[integers[0]].dtype} tensors (e.g. {integers[0]}); LoRA "
                         "weights are floating point", hint="the file is damaged or not a LoRA")
    broken = sorted(k for k, v in state_dict.items()
                    if torch.is_tensor(v) and v.is_floating_point() and not bool(torch.isfinite(v).all()))
    if broken:
        raise ModelError(f"LoRA {label} holds NaN or infinite values in {len(broken)} tensors (e.g. {broken[0]}); "
                         "every image rendered with it would be blank",
                         hint="the file is damaged or comes from a training run that diverged; use an earlier "
                              "checkpoint")
