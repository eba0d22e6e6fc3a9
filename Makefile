# labkit: two commands do all the set-up on a fresh machine.
#   make lab    start JupyterLab at the index (creates .venv from requirements.lock if needed)
#   make test   lint, unit tests and every notebook under nbval
# Headless: make lab LAB_ARGS="--no-browser --port 8888"

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.labkit-installed
LAB_ARGS ?=
# Jupyter refuses to run as root without --allow-root (containers, CI machines).
ROOT_ARGS := $(if $(filter 0,$(shell id -u)),--allow-root)
NB ?= notebooks/*.ipynb
PYTEST_ARGS ?=
NBVAL_FLAGS := --nbval --nbval-current-env --nbval-sanitize-with build/nbval_sanitize.cfg \
	--nbval-cell-timeout=240 --nbval-kernel-startup-timeout=120 -p no:cacheprovider

.PHONY: lab test lint unit nbval notebooks lock tools doctor clean mutation

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "labkit needs Python 3.11 or newer, found " + sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Pinned tool binaries (helm, kubectl) in .tools/bin, unless already on PATH.
tools: $(STAMP)
	$(BIN)/python -m labkit.charts.tools install

lab: $(STAMP) tools
	$(BIN)/jupyter lab notebooks/00_index.ipynb $(ROOT_ARGS) $(LAB_ARGS)

doctor: $(STAMP)
	$(BIN)/labkit doctor

# nbval's sanitize file, plus this checkout's absolute path (clones live anywhere).
build/nbval_sanitize.cfg: tests/nbval_sanitize.cfg
	mkdir -p build
	cp tests/nbval_sanitize.cfg $@
	printf '\n[checkout]\nregex: %s\nreplace: <repo>\n' '$(CURDIR)' >> $@

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

unit: $(STAMP) tools build/nbval_sanitize.cfg
	$(BIN)/pytest tests $(PYTEST_ARGS)

nbval: $(STAMP) tools build/nbval_sanitize.cfg
	$(BIN)/pytest $(NBVAL_FLAGS) $(NB)

test: lint unit nbval

# Mutation testing (not part of `make test`: it takes minutes): mutmut over each package of pyproject's
# [tool.labkit.mutation.*] tables with that package's own fast tests, a score per module; fails under 90%.
# MUTATION_PACKAGES="domain" runs some of them; MUTATION_CHILDREN is mutmut's number of workers;
# MUTATION_ARGS=--survivors runs again only what the last run left alive (after adding tests), --report-only nothing.
MUTATION_PACKAGES ?=
MUTATION_CHILDREN ?= 2
MUTATION_ARGS ?=
mutation: $(STAMP)
	$(BIN)/python tests/mutation.py --max-children $(MUTATION_CHILDREN) $(MUTATION_ARGS) $(MUTATION_PACKAGES)

# Re-execute notebooks in place and store their outputs (NB=notebooks/04_event_sourcing.ipynb for one).
notebooks: $(STAMP) tools
	$(BIN)/python -m labkit.notebooks execute $(NB)

# Refresh the lock: resolve pyproject's dependencies afresh in a scratch venv and freeze it.
lock:
	rm -rf build/lock-venv
	$(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install --quiet --upgrade pip
	build/lock-venv/bin/python -m pip install --quiet -e '.[test,bench]'
	build/lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^labkit' > requirements.lock
	rm -rf build/lock-venv
	@echo "requirements.lock refreshed; update environment.yml and binder/environment.yml pins to match (make test checks)"

clean:
	rm -rf build .run .pytest_cache

# The Docker lab's images on the local engine: offline base images (reused when present), the services, the lab,
# PostgreSQL (the chart's postgres subchart runs it).
.PHONY: images
images: $(STAMP)
	$(BIN)/labkit containers base-image all
	$(BIN)/labkit containers build services
	$(BIN)/labkit containers build lab
	$(BIN)/labkit containers build postgres
	$(BIN)/labkit containers build nats

# README screenshots: the browser test takes them; three are reduced and copied into docs/screenshots.
.PHONY: screenshots
screenshots: $(STAMP) tools
	$(BIN)/pytest tests/test_browser.py -p no:cacheprovider
	$(BIN)/python tests/lab_page.py docs/screenshots 04_replay_slider 02_query_comparison 12_values_playground
