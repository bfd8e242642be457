# The two set-up commands from the README: `make serve` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 6379

.PHONY: serve test lint bench fuzz clean

# setup.py compiles structures/avl.py in place: rebuild when it changes, or the stale
# extension would shadow the edited source.
$(STAMP): pyproject.toml setup.py src/magpie/structures/avl.py
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

serve: $(STAMP)
	mkdir -p data
	$(VENV)/bin/magpie-server --port $(PORT) --bind 127.0.0.1 --dir ./data

test: $(STAMP)
	scripts/ensure-redis
	$(PY) -m pytest -q

# The fuzzers, for as long as asked: make fuzz FUZZ_SECONDS=600 [FUZZ_SEED=123]
FUZZ_SECONDS ?= 300
fuzz: $(STAMP)
	$(PY) tests/fuzz_protocol.py --seconds $(FUZZ_SECONDS) $(if $(FUZZ_SEED),--seed $(FUZZ_SEED))
	$(PY) tests/fuzz_commands.py --seconds $(FUZZ_SECONDS) $(if $(FUZZ_SEED),--seed $(FUZZ_SEED))

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

bench: $(STAMP)
	scripts/ensure-redis
	$(PY) benchmarks/kv.py

clean:
	rm -rf $(VENV) data .pytest_cache
