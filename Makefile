# sobot: `make run` starts the service on its embedded defaults; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PLAYGROUND := tests/e2e/node_modules/.bin/agentsplayground
PLAYGROUND_PORT ?= 56150

.PHONY: run test lint bench install teams-package playground system-deps clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The Microsoft 365 Agents Playground: the Teams client of the end-to-end tests and of `make playground`.
$(PLAYGROUND): tests/e2e/package.json tests/e2e/package-lock.json
	cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error
	touch $(PLAYGROUND)

# Debian packages the integration tests use: a real Dovecot IMAP server (tests/integration/test_mail_imap.py).
system-deps:
	apt-get update && apt-get install -y --no-install-recommends dovecot-imapd dovecot-lmtpd

run: $(STAMP)
	mkdir -p var
	$(BIN)/sobot serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint $(PLAYGROUND)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m bench.timeline
	$(BIN)/python -m bench.teams
	$(BIN)/python -m bench.mail
	$(BIN)/python -m bench.teams --database-url $${SOBOT_BENCH_POSTGRES_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/sobot_bench}
	$(BIN)/python -m bench.reminders
	$(BIN)/python -m bench.load

# The zip a Teams administrator uploads. Needs the bot's app id and the messaging endpoint's host name:
#   CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID=<guid> SOBOT_BOT_DOMAIN=sobot.example.gov.uk make teams-package
teams-package: $(STAMP)
	$(BIN)/python -m bot.package --out dist/sobot-teams-app.zip

# Try the bot in a browser with no Microsoft account: start `make run` first, then open the address printed.
playground: $(PLAYGROUND)
	mkdir -p var
	TEAMSAPPTESTER_BROWSER=none APPLICATION_INSIGHTS_NO_STATSBEAT=true \
	M365_AGENTS_PLAYGROUND_LOGFILE=$(CURDIR)/var/playground.log \
	NODE_OPTIONS="--require $(CURDIR)/tests/e2e/loopback.cjs" \
	$(PLAYGROUND) -e http://127.0.0.1:3978/api/messages -c msteams -p $(PLAYGROUND_PORT) --disable-telemetry

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache tests/e2e/node_modules dist
