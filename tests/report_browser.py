"""A headless Chromium for the report tests, driven with the standard library only.

The harness talks the Chrome DevTools protocol over
``--remote-debugging-pipe`` (file descriptors 3 and 4, messages separated by
NUL bytes) with the standard library only. It records uncaught exceptions,
console errors, log errors (e.g. a failed resource load) and every network
request, and takes a PNG screenshot.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("LRSCOPE_CHROMIUM", "/usr/bin/chromium"))


@dataclass
class PageResult:
    """What loading one page produced."""

    errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    png: bytes = b""
    evaluated: list[Any] = field(default_factory=list)


class DevToolsPipe:
    """A minimal CDP client on a Chromium started with ``--remote-debugging-pipe``."""

    def __init__(self, binary: Path, profile: Path, width: int, height: int) -> None:
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        # move the child's ends above 4 so dup2 onto 3 and 4 never aliases them
        child_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_browser_r)
        os.close(from_browser_w)

        def wire_fds() -> None:  # runs in the child before exec
            os.dup2(child_r, 3)
            os.dup2(child_w, 4)

        args = [
            str(binary),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,
            preexec_fn=wire_fds,
        )
        os.close(child_r)
        os.close(child_w)
        self._write = to_browser_w
        self._read = from_browser_r
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no message from chromium before the deadline")
            ready, _, _ = select.select([self._read], [], [], remaining)
            if ready:
                chunk = os.read(self._read, 1 << 20)
                if not chunk:
                    raise ConnectionError("chromium closed the DevTools pipe")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        decoded: dict[str, Any] = json.loads(message)
        return decoded

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        timeout_s: float = 20.0,
    ) -> dict[str, Any]:
        """Send one command and wait for its answer; events meanwhile go to ``events``."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def wait_event(self, method: str, session: str, timeout_s: float = 20.0) -> dict[str, Any]:
        """The first event ``method`` of ``session`` (already received or still to come)."""

        def wanted(event: dict[str, Any]) -> bool:
            return event.get("method") == method and event.get("sessionId") == session

        for event in self.events:
            if wanted(event):
                return event
        deadline = time.monotonic() + timeout_s
        while True:
            event = self._receive(deadline)
            self.events.append(event)
            if wanted(event):
                return event

    def pump(self, seconds: float) -> None:
        """Collect events for ``seconds``."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.append(self._receive(deadline))
        except TimeoutError:
            return

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError, TimeoutError, ConnectionError):
            self.call("Browser.close", timeout_s=5.0)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._write)
        os.close(self._read)


def _describe(event: dict[str, Any]) -> tuple[str, str] | None:
    """``(kind, text)`` for the events that count as errors or console output."""
    method, params = event.get("method"), event.get("params", {})
    if method == "Runtime.exceptionThrown":
        details = params["exceptionDetails"]
        text = details.get("exception", {}).get("description") or details.get("text", "")
        return "error", f"uncaught: {text}"
    if method == "Runtime.consoleAPICalled":
        text = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
        kind = "error" if params["type"] in ("error", "assert") else "console"
        return kind, f"console.{params['type']}: {text}"
    if method == "Log.entryAdded":
        entry = params["entry"]
        kind = "error" if entry["level"] == "error" else "console"
        return kind, f"log.{entry['level']}: {entry.get('text', '')} {entry.get('url', '')}"
    return None


class Chromium:
    """One headless Chromium for the session; each page opens in a fresh tab."""

    def __init__(self, binary: Path, tmp: Path) -> None:
        self.binary = binary
        self.tmp = tmp
        self._pipe: DevToolsPipe | None = None

    def _browser(self, width: int, height: int) -> DevToolsPipe:
        if self._pipe is None or self._pipe.proc.poll() is not None:
            profile = self.tmp / f"profile-{time.monotonic_ns()}"
            self._pipe = DevToolsPipe(self.binary, profile, width, height)
        return self._pipe

    def close(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None

    def open(
        self,
        url: str,
        *,
        width: int = 1280,
        height: int = 2000,
        full_page: bool = False,
        settle_s: float = 0.4,
        scripts: tuple[str, ...] = (),
    ) -> PageResult:
        """Load ``url`` in a new tab, wait for its load event, run ``scripts``, screenshot it."""
        pipe = self._browser(width, height)
        result = PageResult()
        target = pipe.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})
        session_id = session["sessionId"]
        try:
            for domain in ("Runtime", "Log", "Page", "Network"):
                pipe.call(f"{domain}.enable", session=session_id)
            pipe.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session=session_id,
            )
            pipe.events.clear()
            pipe.call("Page.navigate", {"url": url}, session=session_id)
            pipe.wait_event("Page.loadEventFired", session_id)
            pipe.pump(settle_s)
            for script in scripts:
                reply = pipe.call(
                    "Runtime.evaluate",
                    {"expression": script, "returnByValue": True, "awaitPromise": True},
                    session=session_id,
                )
                if "exceptionDetails" in reply:
                    result.errors.append(f"evaluate: {reply['exceptionDetails']}")
                result.evaluated.append(reply.get("result", {}).get("value"))
            result.png = self._screenshot(pipe, session_id, full_page)
            pipe.pump(0.05)
        finally:
            pipe.call("Target.closeTarget", {"targetId": target})
        for event in pipe.events:
            if event.get("sessionId") != session_id:
                continue
            if event.get("method") == "Network.requestWillBeSent":
                result.requests.append(event["params"]["request"]["url"])
            described = _describe(event)
            if described is not None:
                kind, text = described
                (result.errors if kind == "error" else result.console).append(text)
        return result

    @staticmethod
    def _screenshot(pipe: DevToolsPipe, session_id: str, full_page: bool) -> bytes:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = pipe.call("Page.getLayoutMetrics", session=session_id)["cssContentSize"]
            params["captureBeyondViewport"] = True
            params["clip"] = {
                "x": 0,
                "y": 0,
                "width": size["width"],
                "height": size["height"],
                "scale": 1,
            }
        shot = pipe.call("Page.captureScreenshot", params, session=session_id, timeout_s=60)
        return base64.b64decode(shot["data"])
