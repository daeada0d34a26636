# sobot: a virtual environment built in one stage, copied into a slim runtime that runs as an unprivileged user.
FROM python:3.11-slim AS build
# binutils only here, for strip: the wheels' compiled extensions carry their debugging symbols.
RUN apt-get update && apt-get install -y --no-install-recommends binutils && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY sobot ./sobot
COPY bot ./bot
COPY handlers ./handlers
COPY scheduler ./scheduler
COPY storage ./storage
COPY mail ./mail
COPY web ./web
COPY rules ./rules
# The environment holds sobot and its dependencies only: no pip, no wheels, no build tools, no tests of the packages.
# The bytecode is compiled here, because the unprivileged user cannot write it beside root's files at run time.
RUN python -m venv --without-pip /opt/sobot \
    && pip --python /opt/sobot/bin/python install --no-cache-dir --no-compile --disable-pip-version-check . \
    && find /opt/sobot -name '*.so' -exec strip --strip-unneeded {} + \
    && find /opt/sobot -depth -type d \( -name tests -o -name __pycache__ \) -exec rm -rf {} + \
    && find /opt/sobot \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pyi' -o -name '*.c' -o -name '*.h' \) -delete \
    && /opt/sobot/bin/python -m compileall -q -j 0 /opt/sobot/lib

FROM python:3.11-slim
RUN useradd --system --uid 10001 --create-home --home-dir /home/sobot sobot
COPY --from=build /opt/sobot /opt/sobot
USER sobot
WORKDIR /home/sobot
# var/ holds the embedded SQLite file and Maildir; made here so a volume mounted on it belongs to sobot.
RUN mkdir -p var
ENV PATH=/opt/sobot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SOBOT_HOST=0.0.0.0 \
    SOBOT_PORT=3978
EXPOSE 3978
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('SOBOT_PORT', '3978') + '/healthz', timeout=4)"
# `sobot serve` applies the migrations before it listens (replicas take turns on PostgreSQL's advisory lock): one
# interpreter starting, not two, and sobot itself is the container's first process, which gets the stop signal.
CMD ["sobot", "serve"]
