"""Super-resolution models (ESRGAN, Real-ESRGAN, SwinIR, HAT, DAT, ... as spandrel detects them), run in tiles."""
