"""The review console in a real browser: `audioval up`, upload a track the validator holds for
review, then headless Chromium (Debian's ``chromium`` and ``chromium-driver``, driven by
Selenium) works the queue as two moderators.

Saves the screenshot the README shows (docs/console.png).
"""

from __future__ import annotations

import io
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
import soundfile as sf

from audioval.v1 import classify_pb2, classify_pb2_grpc, verdict_pb2
from audioval_cli.stack import StackPorts

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
AUDIOVAL = shutil.which("audioval", path=str(Path(sys.executable).parent))
CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "console.png"
TOKENS = {"alice": uuid.uuid4().hex, "bob": uuid.uuid4().hex}
WAIT_S = 60.0

if CHROMIUM is None or CHROMEDRIVER is None:
    # CI must run this test: a missing browser is a broken setup there, not a reason to skip.
    if os.environ.get("CI") == "true":
        raise RuntimeError(
            "the console's browser tests need Debian's chromium and chromium-driver "
            "(scripts/setup.sh installs them)"
        )
    pytest.skip("chromium and chromium-driver are not installed", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402


def held_for_review(path: Path) -> Path:
    """A WAV missing three quarters of its bytes: the validator holds it for review."""
    t = np.arange(6 * 22050) / 22050
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.5 * t))
    noise = 0.01 * np.random.default_rng(7).standard_normal(t.size)
    buffer = io.BytesIO()
    sf.write(buffer, ((tone + noise) * 32767).astype(np.int16), 22050, format="WAV")
    wav = buffer.getvalue()
    path.write_bytes(wav[: len(wav) // 4])
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackPorts]:
    assert AUDIOVAL
    ports = StackPorts.free()
    logs = tmp_path_factory.mktemp("logs")
    process = subprocess.Popen(
        [AUDIOVAL, "up", *ports.up_options(), "--log-dir", str(logs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "AUDIOVAL_CLASSIFY_POOL_SIZE": "1",
            "AUDIOVAL_INDEX": str(tmp_path_factory.mktemp("index")),
            "AUDIOVAL_CONSOLE_TOKENS": json.dumps([f"{n}:{t}" for n, t in TOKENS.items()]),
        },
    )
    ready = ""
    deadline = time.monotonic() + 240
    assert process.stdout is not None
    while "dashboard" not in ready and time.monotonic() < deadline and process.poll() is None:
        ready += process.stdout.readline()
    assert f"http://127.0.0.1:{ports.console}/" in ready, (
        ready,
        process.stderr.read() if process.poll() is not None else "",
    )
    try:
        yield ports
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=90)


@pytest.fixture
def browsers() -> Iterator[list[webdriver.Chrome]]:
    """Headless Chromium sessions, one per moderator, made on demand."""
    made: list[webdriver.Chrome] = []
    yield made
    for driver in made:
        driver.quit()


def chromium() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    options.add_argument("--window-size=1280,1400")
    return webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))


class Watch:
    """A WatchVerdicts call for one user, read by a thread into a queue."""

    def __init__(self, address: str, user_id: str) -> None:
        self._channel = grpc.insecure_channel(address)
        stub = classify_pb2_grpc.ClassifyServiceStub(self._channel)
        self._call = stub.WatchVerdicts(
            classify_pb2.WatchVerdictsRequest(user_id=user_id), timeout=600
        )
        self.received: queue.Queue[verdict_pb2.Verdict] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for reply in self._call:
                self.received.put(reply.verdict)
        except grpc.RpcError:
            pass

    def wait_for(self, decision: int, timeout: float = WAIT_S) -> verdict_pb2.Verdict:
        deadline = time.monotonic() + timeout
        while True:
            verdict = self.received.get(timeout=max(deadline - time.monotonic(), 0.01))
            if verdict.decision == decision:
                return verdict

    def close(self) -> None:
        self._call.cancel()
        self._channel.close()


def upload(ports: StackPorts, path: Path, user_id: str) -> dict[str, object]:
    assert AUDIOVAL
    done = subprocess.run(
        [
            AUDIOVAL,
            "upload",
            "--ingest",
            f"127.0.0.1:{ports.ingest}",
            "--classify",
            f"127.0.0.1:{ports.classify}",
            "--user-id",
            user_id,
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_a_review_track_is_decided_in_the_browser_and_reaches_watchers(
    stack: StackPorts, tmp_path: Path, browsers: list[webdriver.Chrome]
) -> None:
    ports = stack
    console = f"http://127.0.0.1:{ports.console}"
    user = f"uploader-{uuid.uuid4().hex[:8]}"
    watch = Watch(f"127.0.0.1:{ports.classify}", user)
    try:
        track = held_for_review(tmp_path / "cut-short.wav")
        result = upload(ports, track, user)
        assert result["verdict"] == "review", result
        track_id = str(result["track_id"])
        # rebuild holds the bytes in the quarantine bucket right after classify's verdict.
        wait_until_held(ports, track_id)

        alice = chromium()
        browsers.append(alice)
        alice.get(f"{console}/")
        assert alice.find_element(By.ID, "token")  # no session: the page asks for the token
        alice.get(f"{console}/?token={TOKENS['alice']}")
        rows = alice.find_elements(By.CSS_SELECTOR, "#queue tr.item")
        assert track_id in [r.get_attribute("data-track-id") for r in rows]
        row = alice.find_element(By.CSS_SELECTOR, f'tr.item[data-track-id="{track_id}"]')
        row.find_element(By.CSS_SELECTOR, "button.claim").click()

        # The track page: findings in words, the picture drawn, the player.
        assert shown(alice, "track-id").text == track_id
        findings = alice.find_element(By.ID, "findings").text
        assert "container.truncated" in findings and "missing_bytes" in findings
        WebDriverWait(alice, WAIT_S).until(
            lambda d: (
                d.execute_script(
                    "const i = document.getElementById('picture'); return i.complete && i.naturalWidth"
                )
                == 1200
            )
        )
        assert alice.find_element(By.ID, "player").get_attribute("src").endswith("/audio")
        # The player's source answers with the uploaded bytes (the session's cookie sent).
        alice.set_script_timeout(WAIT_S)
        status, size = alice.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(document.getElementById('player').src)"
            ".then(r => r.arrayBuffer().then(b => done([r.status, b.byteLength])))"
            ".catch(e => done([0, String(e)]));"
        )
        assert (status, size) == (200, track.stat().st_size)

        # Bob, in his own browser, finds it held and cannot take it.
        bob = chromium()
        browsers.append(bob)
        bob.get(f"{console}/?token={TOKENS['bob']}")
        row = bob.find_element(By.CSS_SELECTOR, f'tr.item[data-track-id="{track_id}"]')
        assert "alice" in row.text
        row.find_element(By.CSS_SELECTOR, "button.claim").click()
        assert "held by alice" in shown(bob, "notice").text
        bob.get(f"{console}/tracks/{track_id}")
        assert "Held by alice" in shown(bob, "held").text
        assert not bob.find_elements(By.ID, "decide")

        alice.set_window_size(1440, 1000)
        alice.save_screenshot(str(tmp_path / "console.png"))
        save_small_png(tmp_path / "console.png", SCREENSHOT)

        alice.find_element(By.ID, "reason").send_keys("cut to a quarter; nothing hidden in it")
        alice.find_element(By.ID, "accept").click()
        assert "alice" in shown(alice, "audit").text
        assert alice.find_element(By.ID, "decision").text == "accept"

        decided = watch.wait_for(verdict_pb2.DECISION_ACCEPT)
        assert decided.track_id == track_id
        bob.get(f"{console}/")
        assert track_id not in bob.find_element(By.ID, "queue").text
    finally:
        watch.close()


def wait_until_held(ports: StackPorts, track_id: str) -> None:
    """Poll the stack's emulator until the quarantine bucket holds the track."""
    from audioval_pipeline.clients import aws_client
    from audioval_pipeline.settings import PipelineSettings

    settings = PipelineSettings(
        aws_endpoint_url=f"http://127.0.0.1:{ports.aws}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3 = aws_client("s3", settings)
    deadline = time.monotonic() + WAIT_S
    while True:
        listed = s3.list_objects_v2(Bucket=settings.quarantine_bucket, Prefix=track_id)
        if any(o["Key"] == track_id for o in listed.get("Contents", [])):
            return
        assert time.monotonic() < deadline, f"{track_id} was never held for review"
        time.sleep(0.2)


def shown(driver: webdriver.Chrome, element_id: str) -> WebElement:
    """The element once the page that has it is loaded (a click's navigation is not waited
    for by the click itself)."""
    return WebDriverWait(driver, WAIT_S).until(lambda d: d.find_element(By.ID, element_id))


def save_small_png(source: Path, target: Path) -> None:
    """The screenshot at 1000 px wide in 64 colours: a README picture, not an archive."""
    from PIL import Image

    with Image.open(source) as image:
        width = 1000
        small = image.convert("RGB").resize(
            (width, round(image.height * width / image.width)), Image.Resampling.LANCZOS
        )
        small.quantize(colors=64).save(target, optimize=True)
    assert target.stat().st_size < 200_000
