"""Telling a preprocessor model (one that makes control maps) from other weights, from its config alone.

A preprocessor is a transformers model folder as the hub ships it: config.json (its `architectures` name
the model class, its `model_type` the family), model.safetensors (or shards listed in
model.safetensors.index.json) and preprocessor_config.json (the image processor it was trained with:
input size, normalisation). Which control kind it serves follows from its class:
- depth: whatever `AutoModelForDepthEstimation` loads (DPT/MiDaS, Depth Anything, GLPN, ZoeDepth...);
- segmentation: whatever `AutoModelForSemanticSegmentation` loads (UperNet, SegFormer, BEiT, DPT...), trained
  on ADE20K's 150 classes, whose colours the segmentation ControlNets were trained on.
DPT makes both (its class says which; a config naming no class needs --kind). Never from file names.
Pose, line-art and soft-edge preprocessors (OpenPose, HED, the line-art nets of controlnet_aux) are not
transformers models: those kinds take a ready map.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from underpaint.core.conditioning import ControlKind
from underpaint.engines.diffusers.checkpoint import ModelFileError, read_safetensors_header

WEIGHTS = "model.safetensors"
SHARD_INDEX = "model.safetensors.index.json"
IMAGE_PROCESSOR = "preprocessor_config.json"
ADE20K_CLASSES = 150
"""The segmentation ControlNets read ADE20K's colours, one per class: a model must label those classes."""
READY_MAP_KINDS = frozenset({ControlKind.POSE, ControlKind.LINEART, ControlKind.SOFTEDGE})
"""Kinds whose preprocessors are not transformers models: they take a ready map."""


@dataclass(frozen=True)
class PreprocessorModel:
    """What a preprocessor folder is: the kind of map it makes and its transformers class."""

    kind: ControlKind
    architecture: str


def model_classes() -> dict[ControlKind, dict[str, str]]:
    """Kind -> transformers' own table of model_type -> class for the task that makes that kind's maps."""
    # transformers takes seconds to import: only a transformers folder needs its tables.
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_DEPTH_ESTIMATION_MAPPING_NAMES,
        MODEL_FOR_SEMANTIC_SEGMENTATION_MAPPING_NAMES,
    )

    return {ControlKind.DEPTH: dict(MODEL_FOR_DEPTH_ESTIMATION_MAPPING_NAMES),
            ControlKind.SEGMENTATION: dict(MODEL_FOR_SEMANTIC_SEGMENTATION_MAPPING_NAMES)}


def transformers_config(path: Path) -> dict[str, Any] | None:
    """The config.json of the transformers model folder at `path`; None when `path` is none (diffusers configs
    name a `_class_name`, transformers ones a `model_type`)."""
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8")) if path.is_dir() else None
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path / 'config.json'} cannot be read ({exc}); copy or download the model again.") \
            from None
    if not isinstance(config, dict) or "_class_name" in config or not isinstance(config.get("model_type"), str):
        return None
    return config


def ready_map_sentence(kind: ControlKind) -> str:
    """Why a kind without a model preprocessor takes a ready map."""
    return (f"{kind} controls take a ready map: their preprocessors (OpenPose, HED, the line-art nets) are not "
            f"transformers models, so Underpaint runs none; send the {kind} image with preprocess false "
            "(`--control KIND:map.png:map`).")


def detect_preprocessor(path: Path, config: dict[str, Any], asked: ControlKind | None) -> PreprocessorModel:
    """The preprocessor in the transformers folder `path` (its `config`), checked complete; `asked` is the
    kind the user named, if any. ModelFileError with a sentence when it is none Underpaint can run."""
    tables = model_classes()
    classes = [name for name in config.get("architectures") or () if isinstance(name, str)]
    model_type = config["model_type"]
    if classes:
        kinds = {kind for kind, table in tables.items() if classes[0] in table.values()}
    else:
        kinds = {kind for kind, table in tables.items() if model_type in table}
    if asked in READY_MAP_KINDS:
        made = " or ".join(sorted(kinds)) or "no control"
        raise ModelFileError(f"{ready_map_sentence(asked)} {path} is a transformers model that makes {made} maps.")
    if not kinds:
        raise ModelFileError(f"{path} is a transformers {classes[0] if classes else model_type} model, which makes "
                             "no control map Underpaint reads: a preprocessor is a depth-estimation model "
                             "(AutoModelForDepthEstimation: DPT, Depth Anything, GLPN...) or a semantic-segmentation "
                             "one (AutoModelForSemanticSegmentation: UperNet, SegFormer...).")
    if asked is not None and asked not in kinds:
        raise ModelFileError(f"{path} makes {' or '.join(sorted(kinds))} maps, not {asked} ones: add it with "
                             f"--kind {sorted(kinds)[0]}, or without --kind.")
    if len(kinds) > 1 and asked is None:
        raise ModelFileError(f"{path}'s config names no model class, and a {model_type} model makes "
                             f"{' or '.join(sorted(kinds))} maps: say which with --kind.")
    kind = asked or kinds.pop()
    architecture = classes[0] if classes else tables[kind][model_type]
    labels = len(config.get("id2label") or {})
    if kind is ControlKind.SEGMENTATION and labels != ADE20K_CLASSES:
        raise ModelFileError(f"{path} labels {labels} classes, but the segmentation ControlNets read ADE20K's "
                             f"{ADE20K_CLASSES}, in its colours: use a model trained on ADE20K.")
    if not (path / IMAGE_PROCESSOR).is_file():
        raise ModelFileError(f"{path} has no {IMAGE_PROCESSOR} (the image processor the model was trained with: "
                             "its input size and normalisation); copy or download the whole folder again.")
    weights(path)
    return PreprocessorModel(kind, architecture)


def weights(folder: Path) -> list[Path]:
    """The safetensors files of a transformers folder, each checked complete (pickled .bin weights are refused:
    they can run code when loaded)."""
    if (folder / WEIGHTS).is_file():
        files = [folder / WEIGHTS]
    elif (folder / SHARD_INDEX).is_file():
        try:
            shards = json.loads((folder / SHARD_INDEX).read_text(encoding="utf-8"))["weight_map"].values()
            files = [folder / name for name in sorted(set(shards))]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, AttributeError, TypeError) as exc:
            raise ModelFileError(f"{folder / SHARD_INDEX} is corrupt ({exc}); copy or download the model again.") \
                from None
    else:
        raise ModelFileError(f"{folder} has no {WEIGHTS} (pickled .bin weights can run code when loaded; convert "
                             "them to .safetensors, or download the safetensors files).")
    for file in files:
        read_safetensors_header(file)
    return files
