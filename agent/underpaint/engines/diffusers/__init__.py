"""The diffusers engine: real Stable Diffusion, FLUX.1 and SD 3.5 pipelines behind the one job path.

Modules, one job each: `architecture` (what the weights are), `families` (what each family can do and
which pipelines run it), `checkpoint` (reading and hashing weight files), `registry` (named models),
`loader` (pipelines from folders, single files and the hub cache), `cache` (warm models, LRU), `device`,
`memory` (T5 dropped between jobs, quantisation, weight sizes), `schedulers`, `previews`, `calls` (one
diffusers call per variant for SD), `flow_calls` (the same for FLUX and SD 3.5) and `engine` (the Engine).
Importing this package imports torch and diffusers; the agent does so only when a model is configured.
"""
