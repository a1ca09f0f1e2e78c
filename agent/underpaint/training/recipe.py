"""What a training is asked to do: one typed, JSON-travelling recipe every front door builds.

The defaults suit a brand set of 10-50 images on an SD 1.5 or SDXL base: rank 16 (enough for a
look, small enough not to memorise the pictures), alpha equal to the rank (LoRA scale 1), AdamW at
1e-4, 1000 steps of batch 1 (20-100 passes over such a set), the base's own resolution.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from underpaint.core import ErrorCode
from underpaint.core.names import NAME_PATTERN

RESOLUTION_STEP = 8
"""Bucket sides are multiples of this: the VAE's downsampling factor (latents are whole)."""
MIN_RESOLUTION, MAX_RESOLUTION = 32, 2048


class TrainingRecipe(BaseModel):
    """Every setting of a LoRA training: what the registry keeps as the LoRA's recipe."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, description="The LoRA's and its style's name.")
    base: str | None = Field(default=None, min_length=1, max_length=64,
                             description="The registered base model (SD 1.5 or SDXL family); the agent's "
                                         "default model when absent.")
    trigger: str = Field(default="", max_length=64, pattern=r"^[^,\n]*$",
                         description="The word that calls the look in a prompt; the name when empty.")
    steps: int = Field(default=1000, ge=1, le=100_000, description="Optimizer steps.")
    rank: int = Field(default=16, ge=1, le=256, description="LoRA rank: the size of the learned change.")
    alpha: float | None = Field(default=None, gt=0, le=1024, description="LoRA alpha; the rank when absent "
                                                                         "(scale 1).")
    learning_rate: float = Field(default=1e-4, gt=0, le=1.0)
    batch_size: int = Field(default=1, ge=1, le=64, description="Images per step, all from one aspect bucket.")
    resolution: int | None = Field(default=None, ge=MIN_RESOLUTION, le=MAX_RESOLUTION,
                                   description="Training area is about resolution x resolution pixels per "
                                               "image, at its own aspect; the base's native size when absent.")
    text_encoder: bool = Field(default=False, description="Train the text encoders too (stronger trigger, "
                                                          "more risk of forgetting).")
    noise_offset: float = Field(default=0.0, ge=0, le=0.5,
                                description="Adds a per-channel constant to the noise, so the LoRA can learn "
                                            "flat dark or bright brand colours.")
    checkpoint_every: int = Field(default=250, ge=1, le=100_000,
                                  description="Steps between checkpoints, progress previews and sample rows.")
    sample_steps: int = Field(default=20, ge=1, le=100, description="Denoising steps of each sample image.")
    sample_seeds: tuple[int, ...] = Field(default=(1, 2), description="Fixed seeds of the samples: the same at "
                                                                      "every checkpoint, so rows compare.")
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="Seed of the noise, timesteps and order.")

    @model_validator(mode="after")
    def _possible(self) -> TrainingRecipe:
        if self.resolution is not None and self.resolution % RESOLUTION_STEP:
            raise PydanticCustomError(ErrorCode.BAD_TRAINING.value,
                                      "resolution {resolution} is not a multiple of {step}",
                                      {"resolution": self.resolution, "step": RESOLUTION_STEP})
        if not 1 <= len(self.sample_seeds) <= 8:
            raise PydanticCustomError(ErrorCode.BAD_TRAINING.value, "give 1 to 8 sample seeds")
        return self

    @property
    def trigger_word(self) -> str:
        return self.trigger.strip() or self.name

    @property
    def lora_alpha(self) -> float:
        return self.alpha if self.alpha is not None else float(self.rank)
