"""The diffusers engine: real Stable Diffusion pipelines behind the one job path.

Modules, one job each: `architecture` (what the weights are), `checkpoint`
(reading and hashing weight files), `registry` (named models), `loader`
(pipelines from folders, single files and the hub cache), `cache` (warm
models, LRU), `device`, `schedulers`, `previews`, `calls` (one diffusers call
per variant) and `engine` (the Engine). Importing this package imports torch
and diffusers; the agent does so only when a model is configured.
"""
