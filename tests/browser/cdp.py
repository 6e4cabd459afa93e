#!/usr/bin/env python3
"""Run tests/browser/echo.html in headless Chromium and print its checks.

usage: cdp.py CHROMIUM PAGE WS_URL [--timeout SECONDS] [--flag=--chromium-flag ...]

PAGE is a file (opened as file://) or an http(s):// URL (a page served by the
server under test, e.g. examples/h2: its WebSocket then shares the page's
HTTP/2 connection). Each --flag adds a Chromium command-line flag.

Talks to Chromium over the DevTools protocol on `--remote-debugging-pipe`
(JSON messages separated by NUL bytes on fds 3 and 4), so no port, no
WebSocket client and nothing beyond the Python 3 standard library. Opens the
page as a file:// URL, evaluates `runEchoTest(WS_URL)` with awaitPromise, and
prints one `PASS name: detail` / `FAIL name: detail` line per check plus the
page's own log and console output. Exit status: 0 all checks passed, 1 some
check failed, 2 the browser could not be driven (or the deadline passed).
Chromium runs in its own process group, which is killed on the way out.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--remote-debugging-pipe",
]


class BrowserError(Exception):
    pass


class Pipe:
    """DevTools protocol over Chromium's fd 3 (commands in) / fd 4 (replies out)."""

    def __init__(self, chromium: str, user_data_dir: str, deadline: float,
                 extra_flags: list[str] | None = None) -> None:
        self.deadline = deadline
        cmd_r, self.cmd_w = os.pipe()
        self.res_r, res_w = os.pipe()
        # bash moves our pipe ends onto fds 3 and 4 of the browser.
        argv = ["bash", "-c", f'exec "$0" "$@" 3<&{cmd_r}- 4>&{res_w}-', chromium,
                *CHROMIUM_FLAGS, *(extra_flags or []), f"--user-data-dir={user_data_dir}", "about:blank"]
        self.proc = subprocess.Popen(argv, pass_fds=(cmd_r, res_w), start_new_session=True,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(user_data_dir, "chromium.log"), "wb"))
        os.close(cmd_r)
        os.close(res_w)
        self.buf = b""
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            n = os.write(self.cmd_w, data)
            data = data[n:]
        return self.next_id

    def recv(self) -> dict:
        while b"\0" not in self.buf:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("deadline passed waiting for the browser")
            ready, _, _ = select.select([self.res_r], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(self.res_r, 65536)
                if not chunk:
                    raise BrowserError(f"browser closed the pipe (exit status {self.proc.poll()})")
                self.buf += chunk
            elif self.proc.poll() is not None:
                raise BrowserError(f"browser exited with status {self.proc.returncode}")
        msg, _, self.buf = self.buf.partition(b"\0")
        return json.loads(msg)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        want = self.send(method, params, session)
        while True:
            msg = self.recv()
            if msg.get("id") == want:
                if "error" in msg:
                    raise BrowserError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)  # the group this script started
            except ProcessLookupError:
                break
            time.sleep(0.5)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        os.close(self.cmd_w)
        os.close(self.res_r)


def console_lines(events: list[dict]) -> list[str]:
    out = []
    for ev in events:
        if ev.get("method") == "Runtime.consoleAPICalled":
            p = ev["params"]
            out.append(f"console.{p.get('type')}: " + " ".join(
                str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif ev.get("method") == "Runtime.exceptionThrown":
            out.append("exception: " + json.dumps(ev["params"].get("exceptionDetails", {}))[:500])
        elif ev.get("method") == "Log.entryAdded":
            e = ev["params"]["entry"]
            out.append(f"log.{e.get('level')}: {e.get('text')}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("chromium")
    ap.add_argument("page")
    ap.add_argument("url")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--flag", action="append", default=[], help="extra Chromium flag")
    args = ap.parse_args()

    deadline = time.monotonic() + args.timeout
    if args.page.startswith(("http://", "https://")):
        page_url = args.page
    else:
        page_url = Path(args.page).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="rfc6455-chromium-") as profile:
        pipe = Pipe(args.chromium, profile, deadline, args.flag)
        try:
            version = pipe.call("Browser.getVersion")
            print(f"browser: {version.get('product')} ({version.get('userAgent')})")
            target = pipe.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            pipe.call("Runtime.enable", session=session)
            pipe.call("Log.enable", session=session)
            pipe.call("Page.enable", session=session)
            nav = pipe.call("Page.navigate", {"url": page_url}, session=session)
            if nav.get("errorText"):
                raise BrowserError(f"cannot open {page_url}: {nav['errorText']}")
            # Wait for the page's script to define runEchoTest.
            while True:
                r = pipe.call("Runtime.evaluate", {"expression": "typeof runEchoTest", "returnByValue": True},
                              session=session)
                if r.get("result", {}).get("value") == "function":
                    break
                if time.monotonic() > deadline:
                    raise BrowserError(f"{page_url} never defined runEchoTest")
                time.sleep(0.1)
            budget_ms = max(1000, int((deadline - time.monotonic() - 5) * 1000))
            r = pipe.call("Runtime.evaluate", {
                "expression": f"runEchoTest({json.dumps(args.url)}, {budget_ms})",
                "awaitPromise": True, "returnByValue": True}, session=session)
            if "exceptionDetails" in r:
                raise BrowserError("runEchoTest threw: " + json.dumps(r["exceptionDetails"])[:800])
            outcome = r["result"]["value"]
        except (BrowserError, OSError, KeyError, ValueError) as e:
            print(f"FAIL browser driver: {e}")
            for line in console_lines(pipe.events):
                print(f"    {line}")
            log = Path(profile, "chromium.log")
            if log.exists():
                tail = log.read_text(errors="replace").splitlines()[-15:]
                print("    chromium stderr (tail):", *("      " + t for t in tail), sep="\n")
            return 2
        finally:
            pipe.close()

    for line in outcome["log"]:
        print(f"    page: {line}")
    for line in console_lines(pipe.events):
        print(f"    {line}")
    failed = 0
    for c in outcome["checks"]:
        print(f"{'PASS' if c['ok'] else 'FAIL'} browser {c['name']}: {c['detail']}")
        failed += not c["ok"]
    if not outcome["checks"]:
        print("FAIL browser: the page reported no check")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
