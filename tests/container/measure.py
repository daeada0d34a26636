"""The image's figures for BENCHMARKS.md: its size over its base, compose up to /readyz, and each replica's memory
idle and under a bounded loop of signed Teams turns. `python -m tests.container.measure` (`make bench` runs it when
a Docker engine answers)."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from threading import Event, Thread

from tests.container.conftest import DOT_ENV, IMAGE, ROOT, Stack, get, run
from tests.container.test_compose import CLIENT_ID, help_message


def image_figures() -> dict[str, float]:
    run(["docker", "build", "--tag", IMAGE, str(ROOT)], timeout=900)

    def size(image: str) -> int:
        return int(run(["docker", "image", "inspect", "--format", "{{.Size}}", image]).stdout)

    return {"image_mb": size(IMAGE) / 1e6, "base_mb": size("python:3.11-slim") / 1e6,
            "added_mb": (size(IMAGE) - size("python:3.11-slim")) / 1e6}  # fmt: skip


def started_at(stack: Stack, service: str) -> datetime:
    stamp = run(["docker", "inspect", "--format", "{{.State.StartedAt}}", stack.container(service)]).stdout.strip()
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{whole}.{(fraction + '000000')[:6]}+00:00")


def resident_mb(stack: Stack, service: str) -> float:
    status = run(["docker", "exec", stack.container(service), "cat", "/proc/1/status"]).stdout
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert found, status
    return int(found[1]) / 1024


def turns(stack: Stack, service: str, count: int, concurrency: int) -> float:
    """`count` signed "help" turns at `concurrency` at once; the seconds they took."""
    url = stack.url(service, "/api/messages")
    body = json.dumps(help_message()).encode()

    def one(_: int) -> None:
        token = stack.signing.token(DOT_ENV[CLIENT_ID], serviceurl=help_message()["serviceUrl"])
        request = urllib.request.Request(url, body, {"Content-Type": "application/json",
                                                     "Authorization": f"Bearer {token}"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(count)))
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=500, help="signed turns sent to each replica")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--replicas", type=int, choices=(1, 2), default=2, help="sobot alone, or with sobot-2")
    args = parser.parse_args()
    figures: dict[str, object] = {**image_figures(), "replicas": args.replicas}
    tmp = Path(tempfile.mkdtemp())
    stack = Stack(tmp, profiles=["replicas"] if args.replicas == 2 else [])
    replicas = ("sobot", "sobot-2")[: args.replicas]
    try:
        started = datetime.now(UTC)
        stack.up()  # returns once the database is healthy and the replicas' containers have started
        urls = [stack.url(s, "/readyz") for s in replicas]
        while not all(get(url)[0] == 200 for url in urls):
            assert (datetime.now(UTC) - started).total_seconds() < 120, "the replicas were not ready in 120 s"
            time.sleep(0.05)
        ready = datetime.now(UTC)
        figures["up_to_ready_s"] = (ready - started).total_seconds()
        # Compose starts the replicas when the database turns healthy: from there to both ready.
        figures["db_healthy_to_ready_s"] = (ready - min(started_at(stack, s) for s in replicas)).total_seconds()
        time.sleep(5)  # idle: what a replica holds once started, with the dispatch and mail jobs ticking
        figures["idle_rss_mb"] = {s: resident_mb(stack, s) for s in replicas}
        peak = {s: 0.0 for s in replicas}
        done = Event()

        def sample() -> None:
            while not done.is_set():
                for s in replicas:
                    peak[s] = max(peak[s], resident_mb(stack, s))
                done.wait(0.5)

        sampler = Thread(target=sample)
        sampler.start()
        try:
            figures["turns_s"] = {s: turns(stack, s, args.turns, args.concurrency) for s in replicas}
        finally:
            done.set()
            sampler.join()
        figures["loaded_peak_rss_mb"] = peak
        figures["after_load_rss_mb"] = {s: resident_mb(stack, s) for s in replicas}
    finally:
        stack.down()
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(rounded(figures), indent=2))


def rounded(value: object) -> object:
    if isinstance(value, float):
        return round(value, 1)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return value


if __name__ == "__main__":
    main()
