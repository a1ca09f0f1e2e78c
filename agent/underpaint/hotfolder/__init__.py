"""The hot folder: a watched folder that turns dropped images into layered PSDs (see service.py)."""
