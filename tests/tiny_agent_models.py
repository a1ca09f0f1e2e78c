"""Register a tiny diffusion set-up in an agent's data folder, for the plugins' and page's live tests.

    python tests/tiny_agent_models.py DATA_DIR

writes DATA_DIR/models.json with a tiny SD 1.5 model (`sd15`), a tiny FLUX.1 Kontext (`tiny-kontext`, the one that
edits by instruction, so a panel shows Edit for it and not for sd15), a canny ControlNet for sd15 (`canny`, from its
UNet), a kohya LoRA (`ink`) and an IP-Adapter (`ip-sd15`, with its image encoder beside it as h94 ships
them), each saved as users download them and added as `underpaint models add` does, plus a style
(`ink-wash`) that uses the LoRA and one (`ink-study`) with steps enough for previews. The agent started on
DATA_DIR then offers the diffusers engine beside its default classic one, so a panel can run real controls,
references, LoRAs and styles in seconds.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tiny_controlnets import make_controlnet, save_controlnet
from tiny_flux import NATIVE as FLUX_NATIVE
from tiny_flux import save_flux_kontext
from tiny_ip_adapter import ENCODERS, save_image_encoder, save_ip_adapter
from tiny_loras import save_kohya_lora
from tiny_pipelines import NATIVE, _checkpoint_pipeline, save_sd15
from underpaint.core.conditioning import ControlKind
from underpaint.engines.diffusers.registry import ModelRegistry, make_entry
from underpaint.styles import StyleBook
from underpaint.styles.book import make_style


def register_tiny_models(data: Path) -> None:
    models = data / "tiny-models"
    sd15 = save_sd15(models / "sd15")
    canny = save_controlnet(make_controlnet(_checkpoint_pipeline(sd15).unet, seed=1), models, "canny")["folder"]
    ink = save_kohya_lora(sd15, models / "ink.safetensors")
    h94 = models / "ip-adapter" / "models"
    save_image_encoder(h94 / "image_encoder", *ENCODERS["models"])
    ip_adapter = save_ip_adapter(sd15, h94 / "ip-adapter_sd15.safetensors", ENCODERS["models"], plus=False, seed=1)
    registry = ModelRegistry(data / "models.json")
    registry.put(make_entry("sd15", sd15, native=NATIVE))
    registry.put(make_entry("tiny-kontext", save_flux_kontext(models / "tiny-kontext"), native=FLUX_NATIVE))
    registry.put(make_entry("canny", canny, control_kind=ControlKind.CANNY))
    registry.put(make_entry("ink", ink))
    registry.put(make_entry("ip-sd15", ip_adapter))
    StyleBook(data / "styles").add(make_style({
        "name": "ink-wash", "description": "Loose ink on wet paper", "prompt": "{prompt}, ink wash",
        "negative_prompt": "photo, blurry", "engine": "diffusers", "model": "sd15",
        "loras": [{"name": "ink", "weight": 0.8}], "steps": 2}))
    # Steps enough for the engine's previews (every 4th) and for a panel to be closed while the job runs.
    StyleBook(data / "styles").add(make_style({
        "name": "ink-study", "description": "Ink wash, worked longer", "prompt": "{prompt}, ink wash",
        "engine": "diffusers", "model": "sd15", "steps": 24}))


if __name__ == "__main__":
    register_tiny_models(Path(sys.argv[1]))
