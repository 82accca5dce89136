"""A small Chrome DevTools Protocol client driving Debian's headless chromium.

Playwright's browsers download from the internet, which the test machines cannot reach;
the system ``chromium`` plus CDP over one websocket is all the browser test needs:
navigate, evaluate JavaScript, type, press keys, click, take screenshots, and record
console errors and every URL the page requested.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import websocket

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The path of a chromium-like browser on PATH, or ``None``."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _group_gone(group: int, timeout_s: float, reap: subprocess.Popen[bytes]) -> bool:
    """Wait until no process of the group is left; True if it emptied in time.

    ``reap`` (the group leader, our child) is polled on the way: until it is reaped it
    stays in the group as a zombie and the group never looks empty.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        reap.poll()
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


class CdpError(RuntimeError):
    """A CDP command failed, or a page script threw."""


class Browser:
    """One headless chromium process with one page, driven over CDP.

    ``start`` launches chromium with ``--remote-debugging-port=0`` and reads the port it
    chose from ``DevToolsActivePort`` in its profile directory; ``close`` ends it.
    """

    def __init__(self, executable: str, profile_dir: Path, width: int = 1280, height: int = 900):
        self.executable = executable
        self.profile_dir = profile_dir
        self.width = width
        self.height = height
        self.proc: subprocess.Popen[bytes] | None = None
        self.ws: websocket.WebSocket | None = None
        self._ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []
        self.console_errors: list[str] = []
        self.requested_urls: list[str] = []

    def start(self, timeout_s: float = 30.0) -> Browser:
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        port_file = self.profile_dir / "DevToolsActivePort"
        # A reused profile keeps the previous run's file, which names a dead port.
        port_file.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [
                self.executable,
                "--headless=new",
                "--remote-debugging-port=0",
                f"--user-data-dir={self.profile_dir}",
                # root in a container: chromium's sandbox needs user namespaces it lacks.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--metrics-recording-only",
                "--mute-audio",
                f"--window-size={self.width},{self.height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Debian's /usr/bin/chromium is a shell wrapper that does not always exec the
            # browser: its own process group lets close() end the browser and its helpers.
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while True:
            if port_file.exists():
                lines = port_file.read_text().splitlines()
                if len(lines) >= 2:
                    break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise CdpError("chromium did not open its DevTools port")
            time.sleep(0.05)
        port = int(lines[0])
        browser_ws = websocket.create_connection(
            f"ws://127.0.0.1:{port}{lines[1]}", timeout=timeout_s, suppress_origin=True
        )
        try:
            target = self._call(browser_ws, "Target.createTarget", {"url": "about:blank"})
        finally:
            browser_ws.close()
        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{port}/devtools/page/{target['targetId']}",
            timeout=timeout_s,
            suppress_origin=True,
        )
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable")
        self.set_viewport(self.width, self.height)
        return self

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
            self.ws = None
        if self.proc is None:
            return
        group = self.proc.pid  # start_new_session: the group id is the wrapper's pid
        for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                break
            if _group_gone(group, wait_s, self.proc):
                break
        if self.proc.poll() is None:
            self.proc.wait(10)
        self.proc = None

    def __enter__(self) -> Browser:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- protocol --------------------------------------------------------------------

    def _call(
        self, ws: websocket.WebSocket, method: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        call_id = next(self._ids)
        ws.send(json.dumps({"id": call_id, "method": method, "params": params or {}}))
        while True:
            message = json.loads(ws.recv())
            if message.get("id") == call_id:
                if "error" in message:
                    raise CdpError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            if "method" in message:
                self._record(message)

    def _record(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text")
            self.console_errors.append(f"exception: {text}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = [a.get("value", a.get("description", "")) for a in params.get("args", [])]
            self.console_errors.append(f"console.{params['type']}: {args}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.console_errors.append(f"log: {entry.get('text')} {entry.get('url', '')}")
        elif method == "Network.requestWillBeSent":
            self.requested_urls.append(params["request"]["url"])

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one CDP command on the page and return its result."""
        assert self.ws is not None, "browser not started"
        return self._call(self.ws, method, params)

    # -- page helpers ------------------------------------------------------------------

    def set_viewport(self, width: int, height: int, mobile: bool = False) -> None:
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )

    def navigate(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete'")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises are awaited)."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CdpError(f"{expression!r} threw: {text}")
        return result.get("result", {}).get("value")

    def wait_for(self, predicate: str, timeout_s: float = 15.0, what: str = "") -> Any:
        """Poll a JavaScript expression until it is truthy; return its value."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.evaluate(predicate)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or predicate}")
            time.sleep(0.1)

    def focus(self, selector: str) -> None:
        found = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e) return false; e.focus(); return document.activeElement === e; })()"
        )
        if not found:
            raise AssertionError(f"cannot focus {selector}")

    def type_text(self, selector: str, text: str) -> None:
        """Focus the element and type text as keyboard input (fires input events)."""
        self.focus(selector)
        self.evaluate(f"document.querySelector({json.dumps(selector)}).select?.()")
        self.send("Input.insertText", {"text": text})

    def press(self, key: str, code: str, key_code: int) -> None:
        """Press and release one key (e.g. "Escape", "Escape", 27; "Enter", "Enter", 13)."""
        base = {"key": key, "code": code, "windowsVirtualKeyCode": key_code}
        self.send("Input.dispatchKeyEvent", {"type": "rawKeyDown", **base})
        if key == "Enter":
            self.send("Input.dispatchKeyEvent", {"type": "char", "text": "\r", **base})
        self.send("Input.dispatchKeyEvent", {"type": "keyUp", **base})

    def click(self, selector: str) -> None:
        """A real mouse click at the centre of the element (scrolled into view first)."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e) return null; e.scrollIntoView({block: 'center'});"
            " const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        if not box:
            raise AssertionError(f"no element {selector}")
        x, y = box
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
            )

    def screenshot(self, path: Path, full_page: bool = True) -> None:
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            width, height = self.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
            )
            params["clip"] = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
        data = self.send("Page.captureScreenshot", params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
