"""The two gunicorn pools of the production stack, worked out from the site's settings.

`web` serves ingestion, pages, admin and static files with sync workers (deploy/workers.py:
freed as soon as an answer is sent): short requests, one at a time per worker, behind nginx's
buffers. `metrics` serves the Metrics API (and the Metrics page's "run") with threaded workers:
a query mostly waits on PostgreSQL, and a thread that waits holds no worker that ingestion needs.
docs/operations.md says how to size both.
"""

import os
from dataclasses import dataclass

from django.conf import settings

POOLS = ("web", "metrics")
WEB_WORKER_CLASS = "deploy.workers.PromptCloseSyncWorker"
# The filter Django's logging uses (userflux_site/settings.py LOGGING): gunicorn's logs use it too.
REDACTION_FILTER = "core.redaction.RedactSecretsFilter"
# How long a web request may take before its worker is replaced, and nginx gives up on it.
WEB_TIMEOUT_SECONDS = 30
# What a Metrics call may add to the statement timeout (token, compile, fetch, render).
METRICS_SLACK_SECONDS = 20


@dataclass(frozen=True)
class Pool:
    """How one pool runs: where it listens, its workers and its time limits."""

    name: str
    bind: str
    worker_class: str
    workers: int
    threads: int
    timeout: int
    graceful_timeout: int


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def metrics_timeout() -> int:
    """Seconds a Metrics call may take, end to end, before nginx and gunicorn give up on it."""
    return int(settings.METRICS_STATEMENT_TIMEOUT) + METRICS_SLACK_SECONDS


def pool(name: str) -> Pool:
    """The settings of the pool called `name` ("web" or "metrics")."""
    if name == "web":
        return Pool(
            name="web",
            bind=settings.SERVE_WEB_BIND,
            worker_class=WEB_WORKER_CLASS,
            workers=settings.SERVE_WEB_WORKERS or max(2, cores()),
            threads=1,
            timeout=WEB_TIMEOUT_SECONDS,
            graceful_timeout=WEB_TIMEOUT_SECONDS,
        )
    if name == "metrics":
        return Pool(
            name="metrics",
            bind=settings.SERVE_METRICS_BIND,
            worker_class="gthread",
            workers=settings.SERVE_METRICS_WORKERS,
            threads=settings.SERVE_METRICS_THREADS,
            # A gthread worker's heartbeat does not wait for its requests: this only replaces a
            # worker that stopped answering altogether. The statement timeout ends a query.
            timeout=metrics_timeout(),
            graceful_timeout=metrics_timeout(),
        )
    raise ValueError(f"There is no pool {name!r}; the pools are {', '.join(POOLS)}.")


def logconfig() -> dict:
    """gunicorn's logging: its error and access logs pass the filter that Django's logs pass."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact_secrets": {"()": REDACTION_FILTER}},
        "formatters": {
            "error": {
                "format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
                "datefmt": "%Y-%m-%dT%H:%M:%S%z",
            },
            "access": {"format": "%(message)s"},
        },
        "handlers": {
            "error": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "error",
                "filters": ["redact_secrets"],
            },
            "access": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "access",
                "filters": ["redact_secrets"],
            },
        },
        "root": {"level": "INFO", "handlers": []},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
        },
    }
