"""The training loop: a LoRA on a loaded SD 1.x/2.x or SDXL pipeline, from a Dataset, to a kohya file.

Latents and (unless the text encoders train) prompt embeddings are computed once; each step then
costs one UNet forward and backward. Noise, timesteps and the batch come from generators seeded by
(seed, step), so a training resumed from a checkpoint runs the very steps it would have run. Between
steps the loop polls the cancel token and asks for its turn on the device (`turn`), which lets the
agent run a designer's fill before the next step.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler
from PIL import Image

from underpaint.engines.base import CancelToken
from underpaint.engines.diffusers.architecture import Family
from underpaint.training.checkpoints import Checkpoint, latest_checkpoint, save_checkpoint
from underpaint.training.dataset import Dataset
from underpaint.training.lora import adapter_state, add_adapters, load_adapter_state, save_kohya
from underpaint.training.recipe import TrainingRecipe

SAMPLE_GUIDANCE = 7.0


@dataclass(frozen=True)
class StepReport:
    step: int
    steps: int
    loss: float
    seconds: float
    eta_seconds: float


class TrainingEvents(Protocol):
    def progress(self, report: StepReport) -> None: ...

    def samples(self, step: int, images: list[np.ndarray]) -> None: ...


@dataclass(frozen=True)
class Trained:
    path: Path
    steps: int
    losses: list[float]
    seconds: float
    resumed_from: int
    """The checkpoint's step this run started from (0: from the start)."""


@dataclass
class _Batch:
    latents: torch.Tensor
    weights: torch.Tensor | None
    captions: list[str]
    indices: list[int]


class Trainer:
    """One training of `recipe` on `pipe` (loaded for it alone: its modules get adapters) in `folder`."""

    def __init__(self, pipe: Any, family: Family, dataset: Dataset, recipe: TrainingRecipe, folder: Path,
                 turn: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext) -> None:
        self.pipe, self.family, self.dataset, self.recipe, self.folder, self.turn = (
            pipe, family, dataset, recipe, folder, turn)
        self.device = pipe.unet.device
        self.dtype = pipe.unet.dtype
        self.noise_scheduler: Any = DDPMScheduler.from_config(pipe.scheduler.config)  # type: ignore[no-untyped-call]
        for module in (pipe.unet, pipe.vae, *(m for m in (pipe.text_encoder, getattr(pipe, "text_encoder_2", None))
                                              if m is not None)):
            module.requires_grad_(False)
        self.latents = [self._encode(image.pixels) for image in dataset.images]
        self.weights = [None if image.mask is None else self._latent_mask(image.mask, latent)
                        for image, latent in zip(dataset.images, self.latents, strict=True)]
        self.cached_text = None if recipe.text_encoder else [self._text([image.caption])
                                                             for image in dataset.images]
        self.parameters = add_adapters(pipe, recipe.rank, recipe.lora_alpha, recipe.text_encoder)
        self.optimizer = torch.optim.AdamW(self.parameters, lr=recipe.learning_rate, weight_decay=1e-2)
        self.batches = [batch for indices in dataset.buckets().values()
                        for batch in (indices[i:i + recipe.batch_size]
                                      for i in range(0, len(indices), recipe.batch_size))]

    # what the job calls

    def run(self, events: TrainingEvents, cancel: CancelToken) -> Trained:
        """Train to `recipe.steps` from the newest checkpoint (if any), then write the LoRA file."""
        recipe = self.recipe
        checkpoint = latest_checkpoint(self.folder / "checkpoints")
        start, losses, spent = 0, [], 0.0
        if checkpoint is not None and checkpoint.step <= recipe.steps:
            load_adapter_state(self.pipe, recipe.text_encoder, checkpoint.adapters)
            self.optimizer.load_state_dict(checkpoint.optimizer)
            start, losses, spent = checkpoint.step, list(checkpoint.losses), checkpoint.seconds
        else:
            with self.turn():
                self._keep_samples(events, 0)
        began = time.monotonic()
        for step in range(start + 1, recipe.steps + 1):
            cancel.raise_if_cancelled()
            with self.turn():
                losses.append(self.step(step))
                elapsed = spent + time.monotonic() - began
                per_step = (time.monotonic() - began) / (step - start)
                events.progress(StepReport(step, recipe.steps, losses[-1], elapsed, per_step * (recipe.steps - step)))
                if step % recipe.checkpoint_every == 0 or step == recipe.steps:
                    self._keep_samples(events, step)
                    save_checkpoint(self.folder / "checkpoints", Checkpoint(
                        step, adapter_state(self.pipe, recipe.text_encoder), self.optimizer.state_dict(), losses,
                        spent + time.monotonic() - began))
        seconds = spent + time.monotonic() - began
        path = self.folder / f"{recipe.name}.safetensors"
        save_kohya(adapter_state(self.pipe, recipe.text_encoder), self.family, recipe.rank, recipe.lora_alpha, path,
                   {"ss_output_name": recipe.name, "ss_max_train_steps": str(recipe.steps),
                    "ss_learning_rate": str(recipe.learning_rate), "ss_num_train_images": str(len(self.dataset.images)),
                    "ss_dataset_hash": self.dataset.sha256, "underpaint_training": recipe.model_dump(mode="json")})
        return Trained(path, recipe.steps, losses, seconds, start)

    def step(self, step: int) -> float:
        """One optimizer step on the batch and noise of `step`; the loss before it."""
        loss = self.loss(self.batch(step), self._generator(step))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        self.optimizer.step()
        return float(loss.detach())

    def loss(self, batch: _Batch, generator: torch.Generator) -> torch.Tensor:
        """The denoising loss on `batch` with noise and timesteps from `generator` (mask-weighted)."""
        latents = batch.latents
        noise = torch.randn(latents.shape, generator=generator)
        if self.recipe.noise_offset:
            noise += self.recipe.noise_offset * torch.randn((latents.shape[0], latents.shape[1], 1, 1),
                                                             generator=generator)
        timesteps = torch.randint(0, self.noise_scheduler.config.num_train_timesteps, (latents.shape[0],),
                                  generator=generator)
        noise, timesteps = noise.to(self.device), timesteps.to(self.device)
        noisy = self.noise_scheduler.add_noise(latents, noise, timesteps)
        if self.noise_scheduler.config.prediction_type == "v_prediction":
            target = self.noise_scheduler.get_velocity(latents, noise, timesteps)
        else:
            target = noise
        embeds, extra = self._conditioning(batch)
        with self._autocast():
            predicted = self.pipe.unet(noisy.to(self.dtype), timesteps, embeds, added_cond_kwargs=extra).sample
        error: torch.Tensor = (predicted.float() - target.float()) ** 2
        if batch.weights is None:
            return error.mean()
        weights = batch.weights.expand_as(error)
        weighted: torch.Tensor = (error * weights).sum() / weights.sum().clamp(min=1e-6)
        return weighted

    def batch(self, step: int) -> _Batch:
        """Step `step`'s images: the batches of one pass over the set, shuffled anew each pass."""
        epoch, index = divmod(step - 1, len(self.batches))
        order = np.random.default_rng([self.recipe.seed, epoch]).permutation(len(self.batches))
        indices = self.batches[int(order[index])]
        weights = None
        if any(self.weights[i] is not None for i in indices):
            weights = torch.cat([self._weights(i) for i in indices])
        return _Batch(torch.cat([self.latents[i] for i in indices]), weights,
                      [self.dataset.images[i].caption for i in indices], indices)

    @torch.no_grad()
    def samples(self) -> list[np.ndarray]:
        """The sample images at fixed seeds and prompts (the first captions), RGB8, the LoRA as trained so far."""
        side = self.dataset.images[0].bucket
        prompts = [self.dataset.images[i % len(self.dataset.images)].caption
                   for i in range(len(self.recipe.sample_seeds))]
        generators = [torch.Generator().manual_seed(seed) for seed in self.recipe.sample_seeds]
        self.pipe.set_progress_bar_config(disable=True)
        with self._autocast():
            output = self.pipe(prompt=prompts, generator=generators, num_inference_steps=self.recipe.sample_steps,
                               guidance_scale=SAMPLE_GUIDANCE, width=side[0], height=side[1], output_type="np")
        return [(np.clip(image, 0, 1) * 255).round().astype(np.uint8) for image in output.images]

    # the pieces

    def _keep_samples(self, events: TrainingEvents, step: int) -> None:
        """The samples of `step`, kept as PNGs for the report (a resumed run's report has every row) and sent."""
        images = self.samples()
        folder = self.folder / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        for seed, image in zip(self.recipe.sample_seeds, images, strict=True):
            Image.fromarray(image).save(folder / f"step-{step:06d}-seed-{seed}.png")
        events.samples(step, images)

    def _generator(self, step: int) -> torch.Generator:
        return torch.Generator().manual_seed(self.recipe.seed * 1_000_003 + step)

    def _autocast(self) -> AbstractContextManager[Any]:
        if self.device.type == "cuda" and self.dtype != torch.float32:
            return torch.autocast("cuda", dtype=self.dtype)
        return contextlib.nullcontext()

    @torch.no_grad()
    def _encode(self, pixels: np.ndarray) -> torch.Tensor:
        vae = self.pipe.vae
        image = torch.from_numpy(pixels.copy()).permute(2, 0, 1)[None].float().div(127.5).sub(1.0)
        # SDXL's VAE overflows in fp16: encode in fp32 when its config says so.
        dtype = torch.float32 if getattr(vae.config, "force_upcast", False) else vae.dtype
        with contextlib.ExitStack() as stack:
            if dtype != vae.dtype:
                original = vae.dtype
                vae.to(dtype)
                stack.callback(vae.to, original)
            latent = vae.encode(image.to(self.device, dtype)).latent_dist.mean
        scaled: torch.Tensor = latent.float() * vae.config.scaling_factor
        return scaled

    def _weights(self, index: int) -> torch.Tensor:
        weights = self.weights[index]
        return torch.ones_like(self.latents[index][:, :1]) if weights is None else weights

    def _latent_mask(self, mask: np.ndarray, latent: torch.Tensor) -> torch.Tensor:
        weights = torch.from_numpy(mask)[None, None]
        return F.interpolate(weights, size=latent.shape[-2:], mode="area").to(self.device)

    def _conditioning(self, batch: _Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor] | None]:
        if self.cached_text is not None:
            parts = [self.cached_text[i] for i in batch.indices]
            embeds = torch.cat([p[0] for p in parts])
            pooled = torch.cat([p[1] for p in parts if p[1] is not None]) if parts[0][1] is not None else None
        else:
            with self._autocast():
                embeds, pooled = self._text(batch.captions)
        if self.family is not Family.SDXL:
            return embeds.to(self.dtype), None
        height, width = batch.latents.shape[-2] * 8, batch.latents.shape[-1] * 8
        ids = torch.tensor([[height, width, 0, 0, height, width]], device=self.device, dtype=self.dtype)
        assert pooled is not None
        return embeds.to(self.dtype), {"text_embeds": pooled.to(self.dtype),
                                       "time_ids": ids.repeat(batch.latents.shape[0], 1)}

    def _text(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Prompt embeddings (and SDXL's pooled ones) for `captions`, through the pipeline's own encoder."""
        with torch.set_grad_enabled(self.recipe.text_encoder):
            if self.family is Family.SDXL:
                embeds, _, pooled, _ = self.pipe.encode_prompt(captions, device=self.device,
                                                               do_classifier_free_guidance=False)
                return embeds, pooled
            embeds, _ = self.pipe.encode_prompt(captions, self.device, 1, False)
            return embeds, None
