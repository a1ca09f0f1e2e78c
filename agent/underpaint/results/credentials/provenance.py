"""What a file says about how it was made (Provenance) and what the user allows it to say (Credentials)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from underpaint.core import Mode
from underpaint.results.recipe import Recipe

IPTC_SOURCE_TYPES = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED_ALGORITHMIC_MEDIA = IPTC_SOURCE_TYPES + "trainedAlgorithmicMedia"
COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA = IPTC_SOURCE_TYPES + "compositeWithTrainedAlgorithmicMedia"
COMPOSITE_SYNTHETIC = IPTC_SOURCE_TYPES + "compositeSynthetic"
ALGORITHMICALLY_ENHANCED = IPTC_SOURCE_TYPES + "algorithmicallyEnhanced"
ALGORITHMIC_MEDIA = IPTC_SOURCE_TYPES + "algorithmicMedia"

WEIGHTLESS_ENGINES = frozenset({"classic"})
"""Engines that run no trained model: what they paint is algorithmic, not generative AI."""


class Action(StrEnum):
    """C2PA actions a file's manifest may list."""

    CREATED = "c2pa.created"
    EDITED = "c2pa.edited"
    RESIZED = "c2pa.resized"
    CONVERTED = "c2pa.converted"


@dataclass(frozen=True)
class Ingredient:
    """An encoded image a file was made from: the source a job edited, or the result file a
    deliverable was made from (whose own manifest then chains into the new one). `fmt` as
    Underpaint names formats: png, jpeg, webp, tiff, avif."""

    data: bytes
    fmt: str
    title: str
    thumbnail: bytes | None = None
    """A small JPEG of it, for readers to show (c2pa's own thumbnails are off: results/credentials/manifest.py)."""


@dataclass(frozen=True)
class Provenance:
    """How one file came to be: the recipe, which variant it shows, what was done, from what."""

    recipe: Recipe
    actions: tuple[Action, ...]
    variant: int = 0
    ingredient: Ingredient | None = None
    title: str = ""

    def __post_init__(self) -> None:
        if not self.actions:
            raise ValueError("a provenance needs at least one action")
        if Action.CREATED in self.actions and self.ingredient is not None:
            raise ValueError("a created file has no parent ingredient; an edit of one is c2pa.edited")
        if Action.CREATED not in self.actions and self.ingredient is None:
            raise ValueError(f"{self.actions[0]} needs the file it was made from as its ingredient")
        if not 0 <= self.variant < max(1, len(self.recipe.seeds)):
            raise ValueError(f"variant {self.variant} is not one of the recipe's {len(self.recipe.seeds)}")

    @classmethod
    def of_result(cls, recipe: Recipe, variant: int, source: Ingredient | None, title: str = "") -> Provenance:
        """A job's own file: created from nothing (Generate), or an edit of `source` (every other mode)."""
        action = Action.CREATED if source is None else Action.EDITED
        return cls(recipe, (action,), variant, source, title)

    @property
    def seed(self) -> int:
        return self.recipe.seeds[self.variant] if self.recipe.seeds else self.recipe.params.seed

    @property
    def digital_source_type(self) -> str:
        return digital_source_type(self.recipe)


def digital_source_type(recipe: Recipe) -> str:
    """The IPTC DigitalSourceType of what `recipe` made, as truthfully as its engine allows."""
    trained = recipe.engine not in WEIGHTLESS_ENGINES
    if recipe.mode == Mode.GENERATE:
        return TRAINED_ALGORITHMIC_MEDIA if trained else ALGORITHMIC_MEDIA
    if recipe.mode == Mode.UPSCALE:
        upscale = recipe.params.upscale
        if upscale is None or upscale.refine == 0 or not trained:
            # Enlarging (Lanczos or a super-resolution model) adds detail but no new content.
            return ALGORITHMICALLY_ENHANCED
    return COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA if trained else COMPOSITE_SYNTHETIC


@dataclass(frozen=True)
class SigningKey:
    """A PEM certificate chain (signer first, then its issuers) and the signer's PEM private key."""

    certificate_chain: bytes
    private_key: bytes
    algorithm: str
    self_made: bool = False
    """True for the pair made on first start: readers show it as untrusted."""


@dataclass(frozen=True)
class Credentials:
    """What the user lets files say: the IPTC disclosure (XMP), and a C2PA manifest signed with
    `signing_key` (None: no manifest). `trust_anchors` are the PEM CA certificates `verify` trusts."""

    disclosure: bool = True
    signing_key: SigningKey | None = None
    trust_anchors: bytes | None = None

    @property
    def manifest(self) -> bool:
        return self.signing_key is not None
