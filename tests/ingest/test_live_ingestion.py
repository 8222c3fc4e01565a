"""Idempotency across real processes: concurrent deliveries, and a worker killed mid-batch.

Real gunicorn servers on one PostgreSQL database. The same batch sent at once to two server
processes is stored once; and when a worker is killed with SIGKILL while batches are in flight,
a client that retries every batch whose answer it lost ends with every event stored once.
"""

import contextlib
import itertools
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from apikeys.provisioning import workspace_provision
from core.actors import SYSTEM
from ingest.models import Event
from tests.support.processes import Gunicorn, call, live_database_url

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

T0 = 1_767_225_600_000


@contextlib.contextmanager
def _gunicorn(workers: int):
    env = {"DATABASE_URL": live_database_url(), "DEBUG": "true"}
    server = Gunicorn(env, workers=workers, settings_module="userflux_site.settings")
    try:
        yield server.wait_ready().port, server.process
    finally:
        server.stop()


@pytest.fixture
def live(transactional_db):
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL)")
    return workspace_provision(name="Live", slug="live", by=SYSTEM).secrets()["writeOnly"]


def _batch(number: int, size: int) -> dict:
    """A batch of browser-like events; half carry an eventId, half are known by content."""
    events = []
    for n in range(size):
        item = {
            "name": "page_view",
            "timestamp": T0 + number * size + n,
            "anonymousId": f"visitor-{number % 7}",
            "properties": {"path": f"/page/{n}", "batch": number, "pad": "x" * 300},
        }
        if n % 2:
            item["eventId"] = f"evt-{number}-{n}"
        events.append(item)
    return {"events": events}


def test_the_same_batch_sent_at_once_to_two_processes_is_stored_once(live):
    with _gunicorn(1) as (a, _), _gunicorn(1) as (b, _):
        body = _batch(1, 200)
        answers = []
        barrier = threading.Barrier(8)

        def send(port: int) -> None:
            barrier.wait()
            answers.append(call(port, "POST", "/event/ingest/batch", body, secret=live)[0])

        threads = [threading.Thread(target=send, args=((a, b)[n % 2],)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert answers == [204] * 8
    assert Event.objects.count() == 200
    assert Event.objects.values("dedup_key").distinct().count() == 200


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(item) for item in path.read_text().split()] if path.exists() else []


def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing_on_retry(live):
    size = 250
    lost: list[int] = []
    answered: list[int] = []
    numbers = itertools.count()
    lock = threading.Lock()
    stop = threading.Event()

    with _gunicorn(2) as (port, master):

        def client() -> None:
            # New batches until the kills are over, so that batches are in flight at each kill
            # however fast the machine.
            while not stop.is_set():
                with lock:
                    number = next(numbers)
                while True:  # retry until an answer arrives, as a careful SDK would
                    try:
                        status = call(
                            port, "POST", "/event/ingest/batch", _batch(number, size), secret=live
                        )[0]
                    except OSError:
                        status = None
                    if status == 204:
                        break
                    with lock:
                        lost.append(number)
                    time.sleep(0.05)
                with lock:
                    answered.append(number)

        threads = [threading.Thread(target=client) for _ in range(4)]
        for thread in threads:
            thread.start()
        for _ in range(3):  # kill a busy worker three times while batches are in flight
            time.sleep(0.4)
            workers = _children(master.pid)
            if workers:
                os.kill(workers[0], signal.SIGKILL)
        time.sleep(0.4)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads)

    batches = len(answered)
    assert sorted(answered) == list(range(batches))  # every batch sent was answered at last
    assert lost, "no answer was lost: the kills missed every batch in flight"
    assert Event.objects.count() == batches * size
    stored = set(Event.objects.values_list("properties__batch", "properties__path"))
    assert len(stored) == batches * size
