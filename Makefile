# Two commands do everything on a fresh machine: `make run` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test bench lint typecheck schemas system-deps clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# torch first, pinned: 2.13.0 is the CPU build this machine has locally; asking for plain
# `torch` (or letting a resolver pick) would pull a multi-GB CUDA build. See README for GPUs.
# spandrel (super-resolution models) goes in without its declared torchvision, whose wheel does not load
# beside a CPU torch; engines/upscalers/spandrel_models.py imports spandrel without it (einops is in pyproject).
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[test]'
	$(PIP) install --quiet --no-deps 'spandrel>=0.4.2,<0.5'
	touch $@

# The TypeScript parts (protocol client, plugins); the lock file pins every package.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# ImageMagick is the independent PSD reader the tests check our files with; Debian's
# Chromium runs the plugin panels (driven by playwright-core, which never downloads a browser);
# exiftool is the independent reader of the IPTC disclosure (tests/test_credentials*.py).
system-deps:
	@command -v identify >/dev/null 2>&1 && command -v chromium >/dev/null 2>&1 && command -v exiftool >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -q && \
		$(SUDO) apt-get install -y -q --no-install-recommends imagemagick chromium libimage-exiftool-perl; }

run: $(STAMP)
	$(VENV)/bin/underpaint serve

lint: $(STAMP)
	$(VENV)/bin/ruff check agent tests bench

typecheck: $(STAMP)
	$(PY) -m mypy

schemas: $(STAMP) $(NODE_STAMP)
	$(PY) -m underpaint.wire.schema_export protocol/schemas
	npm run gen:types

test: $(STAMP) $(NODE_STAMP) system-deps lint typecheck
	$(PY) -m underpaint.wire.schema_export --check protocol/schemas
	node protocol/client/scripts/gen-types.mjs --check
	npx tsc -p protocol/client
	npm run --silent typecheck:figma
	npm run --silent lint:figma
	npm run --silent build:figma
	npm run --silent typecheck:photoshop
	npm run --silent build:photoshop
	npx tsc -p web
	node web/build.mjs --check
	$(PY) -m pytest -q
	npx vitest run

bench: $(STAMP)
	$(PY) bench/run.py
	$(PY) bench/diffusion.py
	$(PY) bench/speed.py
	$(PY) bench/hotfolder.py
	$(PY) bench/upscale.py
	$(PY) bench/quality.py
	$(PY) bench/dashboard.py
	$(PY) bench/export.py
	$(PY) bench/credentials.py
	$(PY) bench/training.py
	$(PY) bench/families.py
	$(PY) bench/cluster.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis
