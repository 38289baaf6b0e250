# The two commands a newcomer needs: `make run` and `make test`. Both work on a fresh clone with
# no server: SQLite and a filesystem broker by default, PostgreSQL/Redis when DATABASE_URL /
# CELERY_BROKER_URL (and REDIS_URL) are set.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint format migrate demo messages clean chaos

run: install migrate demo
	$(BIN)/honcho start -f Procfile.dev

# pytest exits 5 when it collected no test: an empty selection must fail loudly, not pass.
# The suite runs on TEST_WORKERS processes (pytest-xdist; TEST_WORKERS=0 runs it in one process).
TEST_WORKERS ?= 2
test: install
	@$(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$status

# The chaos-convergence proof (RELIABILITY.md section 1): 1,000 orders, 300 articles, 50 purchase
# orders, clean and with faults and killed workers. Smaller or another seed:
# make chaos CHAOS_ARGS="--orders 200 --articles 60 --purchase-orders 10 --seed 3"
chaos: install
	$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --no-input

demo: install
	$(BIN)/python manage.py sandbox_seed
	$(BIN)/python manage.py demo_setup

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

messages: install
	mkdir -p locale
	$(BIN)/python manage.py makemessages -l sv --ignore ".venv/*" --ignore "var/*"
	$(BIN)/python manage.py compilemessages --ignore ".venv/*"

clean:
	rm -rf $(VENV) var db.sqlite3 db.sqlite3-* staticfiles
