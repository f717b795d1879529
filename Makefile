# Two entry points for a newcomer: `make demo` and `make test`.
# Both create a private virtual environment (.venv) and install what they need.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-portability lint bench clean chromium docs

$(STAMP): setup.cfg pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,bench]'
	# Xplique 2.0.2, the reference our cross-check tests and benchmarks compare with; its pins
	# (TF <= 2.20, old scipy) do not fit, and it runs without them.
	$(PY) -m pip install --quiet --no-deps xplique==2.0.2
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/xplique-lens demo --out lens_demo

test: $(STAMP) chromium
	$(PY) -m pytest -q

# The browser test opens the Lens in Debian's chromium: installed here when it is missing and
# the machine allows it (root with apt); otherwise that one test is skipped, with its reason.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 && \
	  echo "installed Debian's chromium for the browser test"; } || \
	echo "chromium is not installed: the browser test will be skipped"

# The suite under the numerics that differ between machines: one thread, oneDNN off, and an
# AVX2-only CPU (oneDNN, XLA and OpenBLAS kernels restricted to AVX2, as on older CPUs).
# Not part of `make test` (about 4x its time); run it after touching tolerances.
test-portability: $(STAMP)
	OMP_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 $(PY) -m pytest -q -m "not slow"
	TF_ENABLE_ONEDNN_OPTS=0 $(PY) -m pytest -q -m "not slow"
	ONEDNN_MAX_CPU_ISA=AVX2 XLA_FLAGS=--xla_cpu_max_isa=AVX2 OPENBLAS_CORETYPE=Haswell \
	  $(PY) -m pytest -q -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check xplique_lens tests benchmarks
	$(VENV)/bin/ruff format --check xplique_lens tests benchmarks

# The documentation site (mkdocs.yml) into site/, strict: a broken link, a missing page or a
# docstring mkdocstrings cannot parse fails the build.
$(VENV)/.installed-docs: $(STAMP)
	$(PY) -m pip install --quiet -e '.[docs]'
	touch $@

docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) lens_demo build *.egg-info
