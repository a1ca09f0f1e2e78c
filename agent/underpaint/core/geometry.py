"""Document geometry every room shares: rectangles, sizes and Expand's margins."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Rect(BaseModel):
    """An integer rectangle in document pixels."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    x: int
    y: int
    width: int = Field(ge=0)
    height: int = Field(ge=0)

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height

    @property
    def area(self) -> int:
        return self.width * self.height

    def offset(self, dx: int, dy: int) -> Rect:
        return Rect(x=self.x + dx, y=self.y + dy, width=self.width, height=self.height)

    def intersect(self, other: Rect) -> Rect:
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1, y1 = min(self.right, other.right), min(self.bottom, other.bottom)
        return Rect(x=x0, y=y0, width=max(0, x1 - x0), height=max(0, y1 - y0))


class Size(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    width: int = Field(gt=0)
    height: int = Field(gt=0)


class Margins(BaseModel):
    """How far Expand grows the canvas on each side, in pixels."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    left: int = Field(default=0, ge=0)
    top: int = Field(default=0, ge=0)
    right: int = Field(default=0, ge=0)
    bottom: int = Field(default=0, ge=0)
