# The two commands a newcomer needs: `make demo` and `make test`. Each creates .venv itself.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SCORER := $(VENV)/bin/scorer
IMDB ?= ../shared/data/imdb

.PHONY: install demo test lint model refit-check compare-models bench chaos audit image image-test clean

install: $(VENV)/.installed

# Quiet pip, one line per step; pip still prints its errors. The filter drops setuptools'
# "Editable installation" banner (a note on import precedence, printed on every install).
$(VENV)/.installed: pyproject.toml requirements-keras.txt
	@echo "install: a virtualenv in $(VENV) (TensorFlow: a few minutes the first time)"
	@$(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade "pip>=23.2"
	@echo "install: scorer with its extras (train, report, local) and dev tools"
	@PYTHONWARNINGS="ignore:Editable installation" $(PY) -m pip install --quiet -e '.[dev]'
	@echo "install: tf-keras and tensorflow-hub for the trainer (requirements-keras.txt)"
	@$(PY) -m pip install --quiet --no-deps -r requirements-keras.txt
	@touch $@
	@echo "install: done: $(SCORER)"

demo: install
	$(SCORER) demo

test: install lint
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

model: install
	$(SCORER) train --data $(IMDB)/train.jsonl.gz --test-data $(IMDB)/test.jsonl.gz --output models/default

# Does --refit pay? A nested holdout on the training reviews alone (never the test set): 10
# disjoint judges of 2,500, each trained for without and with the refit (~20 min here; not CI).
refit-check: install
	nice $(PY) -m trainer.refit_check --data $(IMDB)/train.jsonl.gz

# The pre-registered model comparison (docs/performance.md, "Choosing the next model"): each
# candidate against the shipped options on the same 10 judges of the training reviews (~45 min).
compare-models: install
	nice -n 19 $(PY) -m trainer.config_compare --data $(IMDB)/train.jsonl.gz \
	    --candidate dim32='--embedding-dim 32' --candidate lr1e-3='--learning-rate 1e-3' \
	    --candidate vocab200k='--max-vocab 200000'

bench: install
	$(PY) -m bench --data $(IMDB)/test.jsonl.gz

# The long reliability runs (the short versions are part of `make test`); figures are printed
# and written to tests/chaos/results/. The fuzz suite runs its `long` hypothesis profile.
chaos: install
	$(PY) -m pytest tests/chaos --chaos-long -m chaos_long -v
	SCORER_FUZZ_PROFILE=long $(PY) -m pytest tests/fuzz -v

# Dependency audit: needs the vulnerability service's network (not reachable in this sandbox).
audit: install
	bash tests/chaos/audit.sh

# The worker image (Dockerfile's `runtime` stage) and the compose stack's moto image, on
# python:3.11-slim or, where no registry is reachable, a stand-in made from Debian packages
# (docs/deployment.md). Needs a running Docker engine (tests/container/dockerd.sh starts one).
IMAGE ?= scorer:local
MOTO_IMAGE ?= scorer-moto:local
export IMAGE MOTO_IMAGE

image:
	bash tests/container/build-images.sh

# The images run for real: scoring, non-root, HEALTHCHECK, SIGTERM busy and idle, the compose
# stack with two workers. Fails (does not skip) without a Docker engine.
image-test: install image
	SCORER_CONTAINER_TESTS=1 $(PY) -m pytest -q -rA tests/container

clean:
	rm -rf $(VENV) build *.egg-info
