# sobot: `make run` starts the service on its embedded defaults; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PLAYGROUND := tests/e2e/node_modules/.bin/agentsplayground
PLAYGROUND_PORT ?= 56150
# Where `make playground` finds the bot: the port `make run` listens on (SOBOT_PORT, as sobot itself reads it).
SOBOT_PORT ?= 3978

# What the suite needs from the system, one line each: a command it runs, then the Debian packages that provide it.
# `make test` installs whatever is missing (as root, with apt-get), or says what to install and how.
# Dovecot: the IMAP server tests/integration/test_mail_imap.py runs against.
SYSTEM_NEEDS := dovecot:dovecot-imapd,dovecot-lmtpd
# npm (and Node.js with it): installs the Agents Playground, the Teams client of the end-to-end tests.
SYSTEM_NEEDS += npm:npm
# Chromium and its WebDriver: the browser in which the end-to-end tests use the Playground's web page.
SYSTEM_NEEDS += chromium:chromium chromedriver:chromium-driver
# Programs installed by root are often outside a user's PATH.
SYSTEM_PATH := $(PATH):/usr/local/sbin:/usr/sbin:/sbin

.PHONY: run test lint bench install teams-package teams-js playground screenshots system-deps clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) || { echo "Could not make a virtual environment with $(PYTHON) (3.11 or newer);" \
		"on Debian or Ubuntu: apt-get install python3-venv" >&2; exit 1; }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The Microsoft 365 Agents Playground: the Teams client of the end-to-end tests and of `make playground`.
$(PLAYGROUND): tests/e2e/package.json tests/e2e/package-lock.json
	cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error
	touch $(PLAYGROUND)

# Each of SYSTEM_NEEDS whose command is not found: installed through apt-get as root on Debian; otherwise a message
# naming what to install, which stops CI (CI=true) and elsewhere lets the run go on (the IMAP tests skip, saying why).
system-deps:
	@missing=""; commands=""; \
	for need in $(SYSTEM_NEEDS); do \
		PATH="$(SYSTEM_PATH)" command -v "$${need%%:*}" >/dev/null 2>&1 && continue; \
		commands="$$commands $${need%%:*}"; missing="$$missing $$(echo "$${need#*:}" | tr , ' ')"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing what the tests need:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else \
		echo "The tests need programs not found here:$$commands" >&2; \
		echo "  on Debian or Ubuntu, install them as root: apt-get install --no-install-recommends$$missing" >&2; \
		echo "  elsewhere, install the packages of your system that provide them" >&2; \
		if [ "$(CI)" = true ]; then exit 1; fi; \
	fi

run: $(STAMP)
	mkdir -p var
	$(BIN)/sobot serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: system-deps lint $(PLAYGROUND)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m bench.timeline
	$(BIN)/python -m bench.teams
	$(BIN)/python -m bench.mail
	$(BIN)/python -m bench.hostile_mail
	$(BIN)/python -m bench.teams --database-url $${SOBOT_BENCH_POSTGRES_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/sobot_bench}
	$(BIN)/python -m bench.mail --database-url $${SOBOT_BENCH_POSTGRES_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/sobot_bench}
	$(BIN)/python -m bench.reminders
	$(BIN)/python -m bench.dashboard
	$(BIN)/python -m bench.oversight
	$(BIN)/python -m bench.load
	$(BIN)/python -m bench.imports
	@# The container's figures, where a Docker engine answers (../shared/tools/docker-here start gives one).
	@if docker version >/dev/null 2>&1; then \
		$(BIN)/python -m tests.container.measure --replicas 1 && $(BIN)/python -m tests.container.measure --replicas 2; \
	else echo "bench: no Docker engine answers, so the container's figures are not measured"; fi

# The zip a Teams administrator uploads. Needs the bot's app id and the messaging endpoint's host name (and, where the
# tabs sign on with an app registration of their own, SOBOT_ENTRA_CLIENT_ID):
#   CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID=<guid> SOBOT_BOT_DOMAIN=sobot.example.gov.uk make teams-package
teams-package: $(STAMP)
	$(BIN)/python -m bot.package --out dist/sobot-teams-app.zip

# TeamsJS, served by the dashboard from its own static files: the built file of the version tests/e2e/package.json
# pins, copied into web/static/teams-js (commit the copy).
teams-js:
	cd tests/e2e && npm install --no-audit --no-fund --loglevel=error
	cp tests/e2e/node_modules/@microsoft/teams-js/dist/umd/MicrosoftTeams.min.js web/static/teams-js/
	cp tests/e2e/node_modules/@microsoft/teams-js/LICENSE web/static/teams-js/LICENSE

# Try the bot in a browser with no Microsoft account: start `make run` first, then open the address printed.
playground: $(PLAYGROUND)
	mkdir -p var
	TEAMSAPPTESTER_BROWSER=none APPLICATION_INSIGHTS_NO_STATSBEAT=true \
	M365_AGENTS_PLAYGROUND_LOGFILE=$(CURDIR)/var/playground.log \
	NODE_OPTIONS="--require $(CURDIR)/tests/e2e/loopback.cjs" \
	$(PLAYGROUND) -e http://127.0.0.1:$(SOBOT_PORT)/api/messages -c msteams -p $(PLAYGROUND_PORT) --disable-telemetry

# The pictures of the cards in docs/ (the README shows them): the browser tests, saving what they see.
screenshots: system-deps $(STAMP) $(PLAYGROUND)
	SOBOT_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/pytest -q tests/e2e/test_browser.py tests/e2e/test_dashboard.py \
		tests/e2e/test_oversight_page.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache tests/e2e/node_modules dist
