#!/usr/bin/env python3
"""Drive the chat demo (examples/chat.rs) with two pages of one headless Chromium.

usage: chat.py CHROMIUM URL [--timeout SECONDS]

URL is the demo's page, e.g. http://127.0.0.1:8080/. Uses cdp.py's DevTools pipe
(Python stdlib only) and drives the page as a person would: types a name, clicks Join,
types messages, clicks Send, reads the list on screen. Page A joins as `<i>Ann</i>` (markup
that must show as text), page B with a 64-character name (the server keeps 32); A sends
"🦀𝄞" (4-byte UTF-8) and a 64 KiB message, B must show both intact; each page shows the
other's join; A's page is closed, B shows A leaving. One `PASS name: detail` /
`FAIL name: detail` line per check. Exit status: 0 all passed, 1 a check failed, 2 the
browser could not be driven.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

import cdp

# Both pages stay busy while in the background.
cdp.CHROMIUM_FLAGS += ["--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                       "--disable-backgrounding-occluded-windows"]

NAME_A = "<i>Ann</i>"
NAME_B = "Bob-" + "x" * 60
NAME_B_KEPT = NAME_B[:32]
CRAB = "\U0001F980\U0001D11E"  # 🦀𝄞: two 4-byte UTF-8 sequences
# The 64 KiB message, built the same way in page A (to send) and page B (to compare).
BIG_JS = "Array.from({length: 65536}, (_, i) => String.fromCharCode(97 + i % 26)).join('')"

failed = 0


def check(name: str, ok: bool, detail: str) -> None:
    global failed
    print(f"{'PASS' if ok else 'FAIL'} chat {name}: {detail}", flush=True)
    failed += not ok


class Page:
    def __init__(self, pipe: cdp.Pipe, url: str, label: str) -> None:
        self.pipe, self.label = pipe, label
        self.target = pipe.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = pipe.call("Target.attachToTarget", {"targetId": self.target, "flatten": True})["sessionId"]
        pipe.call("Runtime.enable", session=self.session)
        pipe.call("Page.enable", session=self.session)
        nav = pipe.call("Page.navigate", {"url": url}, session=self.session)
        if nav.get("errorText"):
            raise cdp.BrowserError(f"page {label}: cannot open {url}: {nav['errorText']}")

    def eval(self, expression: str):
        r = self.pipe.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                 "awaitPromise": True}, session=self.session)
        if "exceptionDetails" in r:
            return None  # e.g. the page's script has not run yet
        return r.get("result", {}).get("value")

    def wait(self, expression: str, seconds: float):
        """The expression's value once truthy, or None after `seconds`."""
        end = min(time.monotonic() + seconds, self.pipe.deadline - 1)
        while True:
            value = self.eval(expression)
            if value or time.monotonic() > end:
                return value
            time.sleep(0.1)

    def type_and_click(self, field: str, text_js: str, button: str) -> None:
        self.eval(f"document.getElementById({json.dumps(field)}).value = {text_js}; "
                  f"document.getElementById({json.dumps(button)}).click(); true")

    def shows(self, kind: str, name: str, text_js: str | None = None) -> str:
        """JS: whether the log shows an entry of `kind` from `name` (with the text `text_js`)."""
        cond = f"li.querySelector('.name').textContent === {json.dumps(name)}"
        if text_js is not None:
            cond += f" && li.querySelector('.text').textContent === ({text_js})"
        return f"[...document.querySelectorAll('#log li[data-kind={kind}]')].some((li) => {cond})"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("chromium")
    ap.add_argument("url")
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args()
    wait = 10.0

    with tempfile.TemporaryDirectory(prefix="rfc6455-chat-") as profile:
        pipe = cdp.Pipe(args.chromium, profile, time.monotonic() + args.timeout)
        try:
            version = pipe.call("Browser.getVersion")
            print(f"browser: {version.get('product')}")
            a = Page(pipe, args.url, "A")
            b = Page(pipe, args.url, "B")
            for page in (a, b):
                status_js = "document.getElementById('status').textContent"
                status = page.wait(f"{status_js}.startsWith('connected') && {status_js}", wait)
                check(f"page {page.label} loaded and connected", bool(status),
                      f"status {status or page.eval(status_js)!r}")

            a.type_and_click("name", json.dumps(NAME_A), "join")
            ok = b.wait(b.shows("join", NAME_A), wait)
            check("B sees A's join notice", bool(ok), f"name {NAME_A!r}")
            no_markup = b.eval("document.querySelector('#log i') === null")
            check("names are shown as text, not HTML", bool(ok and no_markup),
                  f"join notice text {NAME_A!r}, no <i> element in B's log: {no_markup}")

            b.type_and_click("name", json.dumps(NAME_B), "join")
            ok = a.wait(a.shows("join", NAME_B_KEPT), wait)
            check("A sees B's join notice, name cut to 32 characters server-side", bool(ok),
                  f"sent {len(NAME_B)} characters, shown: "
                  + repr(a.eval("[...document.querySelectorAll('#log li[data-kind=join] .name')]"
                                ".map((e) => e.textContent).join(' | ')")))
            here = b.wait("[...document.querySelectorAll('#log li[data-kind=here] .text')]"
                          ".map((e) => e.textContent).join(' | ')", wait)
            check("B is told who is here", bool(here) and NAME_A in here, f"{here!r}")

            a.type_and_click("text", json.dumps(CRAB), "send")
            ok = b.wait(b.shows("msg", NAME_A, json.dumps(CRAB)), wait)
            check("B receives A's 4-byte UTF-8 text intact", bool(ok), f"{CRAB!r} from {NAME_A!r}")

            a.type_and_click("text", BIG_JS, "send")
            ok = b.wait(b.shows("msg", NAME_A, BIG_JS), wait)
            got = b.eval("Math.max(0, ...[...document.querySelectorAll('#log li[data-kind=msg] .text')]"
                         ".map((e) => e.textContent.length))")
            check("B receives A's 64 KiB message intact", bool(ok), f"longest message shown: {got} characters")
            ok = a.wait(a.shows("msg", NAME_A, BIG_JS), wait)
            check("A sees its own messages too", bool(ok), "the 64 KiB message came back to A")

            pipe.call("Target.closeTarget", {"targetId": a.target})
            ok = b.wait(b.shows("leave", NAME_A), wait)
            check("B sees A leave when A's page closes", bool(ok), f"leave notice for {NAME_A!r}")
            status = b.eval("document.getElementById('status').textContent")
            check("B is still connected", status.startswith("joined as"), f"status {status!r}")
        except (cdp.BrowserError, OSError, KeyError, ValueError, AttributeError) as e:
            print(f"FAIL chat browser driver: {e}")
            for line in cdp.console_lines(pipe.events):
                print(f"    {line}")
            return 2
        finally:
            pipe.close()
        for line in cdp.console_lines(pipe.events):
            print(f"    {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
