"""classify started alongside its Ray head waits for the head's GCS, and says so when it gives up."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from audioval_classify.ray_connection import StartupInterrupted, wait_for_gcs
from audioval_localstack import free_port


def test_wait_for_gcs_returns_once_the_port_listens() -> None:
    port = free_port()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

    def listen_later() -> None:
        time.sleep(0.3)
        listener.bind(("127.0.0.1", port))
        listener.listen()

    opener = threading.Thread(target=listen_later)
    opener.start()
    try:
        started = time.monotonic()
        wait_for_gcs(f"127.0.0.1:{port}", time.monotonic() + 20.0)
        assert time.monotonic() - started >= 0.3
    finally:
        opener.join()
        listener.close()


def test_wait_for_gcs_names_the_address_when_it_times_out() -> None:
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(TimeoutError, match=address):
        wait_for_gcs(address, time.monotonic() + 0.3)


def test_wait_for_gcs_stops_at_once_when_asked() -> None:
    stop = threading.Event()
    stop.set()
    started = time.monotonic()
    with pytest.raises(StartupInterrupted):
        wait_for_gcs(f"127.0.0.1:{free_port()}", time.monotonic() + 60.0, stop=stop)
    assert time.monotonic() - started < 5.0
