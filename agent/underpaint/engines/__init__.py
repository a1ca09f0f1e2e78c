"""Engines: the Engine interface, the classic engine (no weights) and diffusers."""
