# sobot: a wheel built in one stage, installed into a slim runtime that runs as an unprivileged user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY sobot ./sobot
COPY bot ./bot
COPY handlers ./handlers
COPY scheduler ./scheduler
COPY storage ./storage
COPY mail ./mail
COPY rules ./rules
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --create-home --home-dir /home/sobot sobot
COPY --from=build /wheels /wheels
# Only the wheels built above: the runtime stage installs nothing it was not given.
RUN pip install --no-cache-dir --no-index --find-links=/wheels sobot && rm -rf /wheels
USER sobot
WORKDIR /home/sobot
# var/ holds the embedded SQLite file and Maildir; made here so a volume mounted on it belongs to sobot.
RUN mkdir -p var
ENV PYTHONUNBUFFERED=1 \
    SOBOT_HOST=0.0.0.0 \
    SOBOT_PORT=3978
EXPOSE 3978
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('SOBOT_PORT', '3978') + '/healthz', timeout=4)"
# Migrations first, then the service (which also checks the schema on start).
CMD ["sh", "-c", "sobot db upgrade && exec sobot serve"]
