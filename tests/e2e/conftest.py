"""Fixtures for the browser tests: a demo database, a live ``tradeloop serve`` and headless Chromium.

The server runs as a real subprocess (``python -m tradeloop serve``) on a free local port, so the tests
exercise the same start-up path as an operator would. Its output goes to files; when a browser test fails,
the tail of the server's stderr is attached to the failure report.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
DEMO_PASSWORD = "tradeloop-demo"
STARTUP_TIMEOUT_S = 30


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason: str):
    """Missing browser tooling skips locally but fails in CI, where it is installed on purpose."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: the browser tests must run)", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _hermetic_env() -> dict[str, str]:
    """The caller's TRADELOOP_* settings (database URL, locale, ...) must not leak into the test server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADELOOP_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _tail(path: Path, limit: int = 6000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "<no output>"
    return text[-limit:] or "<empty>"


class LiveServer:
    def __init__(self, url: str, proc: subprocess.Popen, stderr_path: Path):
        self.url = url
        self.proc = proc
        self.stderr_path = stderr_path

    def stderr(self) -> str:
        return _tail(self.stderr_path)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    """The demo, built once per test process by ``tradeloop demo --no-serve``; each module's server runs on a
    copy of it, so the modules start from the same data and never see each other's changes."""
    data_dir = tmp_path_factory.mktemp("e2e-demo") / "data"
    demo = subprocess.run(
        [sys.executable, "-m", "tradeloop", "demo", "--no-serve", "--data-dir", str(data_dir)],
        capture_output=True, text=True, env=_hermetic_env(), timeout=600)
    if demo.returncode != 0:
        pytest.fail(f"`tradeloop demo --no-serve` exited {demo.returncode}\n--- stdout\n{demo.stdout}"
                    f"\n--- stderr\n{demo.stderr}", pytrace=False)
    return data_dir


@pytest.fixture(scope="module")
def live_server(tmp_path_factory, demo_template):
    root = tmp_path_factory.mktemp("e2e")
    data_dir = root / "data"
    shutil.copytree(demo_template, data_dir)
    env = _hermetic_env()

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    stdout_path, stderr_path = root / "serve.stdout.log", root / "serve.stderr.log"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "tradeloop", "serve", "--data-dir", str(data_dir),
                                 "--host", "127.0.0.1", "--port", str(port)],
                                stdout=out, stderr=err, env=env)
    server = LiveServer(url, proc, stderr_path)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        last_error = "not polled yet"
        while True:
            if proc.poll() is not None:
                pytest.fail(f"`tradeloop serve` exited {proc.returncode} before becoming healthy\n"
                            f"--- stderr\n{server.stderr()}", pytrace=False)
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        break
                    last_error = f"HTTP {resp.status}"
            except (urllib.error.URLError, OSError) as exc:
                last_error = repr(exc)
            if time.monotonic() > deadline:
                pytest.fail(f"`tradeloop serve` not healthy after {STARTUP_TIMEOUT_S} s ({last_error})\n"
                            f"--- stderr\n{server.stderr()}", pytrace=False)
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} not found: install Debian's chromium "
                     "(apt-get install chromium fonts-wqy-microhei)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("the playwright Python package is not installed (pip install -e '.[test]')")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        server = getattr(item, "funcargs", {}).get("live_server")
        if isinstance(server, LiveServer):
            report.sections.append(("tradeloop serve stderr (tail)", server.stderr()))


ARTIFACTS = REPO_ROOT / "test-artifacts"


def demo_login(browser, live_server, username: str = "silk-admin", *, width: int = 1360, timeout_ms: int = 10_000):
    """A zh-CN browser context (Beijing time) logged in as a demo user, and its page."""
    from urllib.parse import urlparse

    context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": 900},
                                  locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("form[action='/login'] button[type=submit]")
    assert urlparse(page.url).path != "/login", f"{username} could not log in"
    return context, page


def shot(page, name: str) -> Path:
    """A full-page screenshot into test-artifacts/ (scrolled to the top first); checked to be a PNG."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    path.unlink(missing_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path
