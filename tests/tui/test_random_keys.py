"""5,000 random keys over every view of the demo: no crash, and the app still answers.

A fixed seed makes a failure repeatable; the message names the keys of the round that
broke it. Each round opens a view by command (pods, workloads, nodes, namespaces,
services, events, the panels, contexts), maybe a screen on its row (describe, YAML, logs,
help), then presses random keys: letters, digits, the punctuation that means something
here (``[ ] / : ! -`` and friends), enter, escape, tab, arrows, and ctrl+d / ctrl+k whose
dialogs the following keys answer or cancel.
"""

from __future__ import annotations

import asyncio
import os
import random
import string
import time

import textual.app

from mlops_tui.tui.views.resource_view import ResourceView

# fixed, so a failure repeats; MLOPS_TUI_FUZZ_SEED explores others
SEED = int(os.environ.get("MLOPS_TUI_FUZZ_SEED", "20261202"))
TOTAL_KEYS = 5_000
ROUND_KEYS = 40
SIZE = (150, 45)
VIEWS = ("po", "deploy", "sts", "ds", "no", "ns", "svc", "ev", "gpu", "models", "pulse", "ctx",
         "rs", "job", "cm", "sec", "pvc", "isvc")
OPENERS = ("d", "y", "l", "p", "question_mark", "enter", "s", "ctrl+d", "ctrl+k", None)
SPECIAL = ("enter", "escape", "tab", "shift+tab", "up", "down", "left", "right", "home", "end",
           "pageup", "pagedown", "backspace", "ctrl+d", "ctrl+k", "ctrl+w", "ctrl+a", "ctrl+e")
PUNCTUATION = "[]/:!-_=.,()<>?'\"\\ *+{}|$@#%&~;`^"


def random_key(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.45:
        return rng.choice(string.ascii_letters + string.digits)
    if roll < 0.75:
        return rng.choice(PUNCTUATION)
    return rng.choice(SPECIAL)


def rounds(rng: random.Random):
    """Lists of keys, one per round, TOTAL_KEYS in all."""
    pressed, index = 0, 0
    while pressed < TOTAL_KEYS:
        view = VIEWS[index % len(VIEWS)]
        keys = ["escape", "escape", "escape", ":", *view, "enter"]
        opener = rng.choice(OPENERS)
        if opener:
            keys.append(opener)
        keys += [random_key(rng) for _ in range(ROUND_KEYS)]
        keys = keys[:TOTAL_KEYS - pressed]
        pressed += len(keys)
        index += 1
        yield keys


async def _yield(*args: object, **kwargs: object) -> None:
    await asyncio.sleep(0)


async def test_five_thousand_random_keys(make_app, monkeypatch):
    # Pilot waits for the process to go idle after every key (two 20 ms sleeps at least):
    # 5,000 keys would take minutes. Keys here come as from a fast typist instead, one
    # loop turn apart; each round ends with a full pause, so the app is checked settled.
    monkeypatch.setattr(textual.app, "wait_for_idle", _yield)
    app = await make_app(all_namespaces=True)
    exits: list[object] = []
    async with app.run_test(size=SIZE) as pilot:
        # ":q⏎" is as likely as any three keys: quitting is a fine answer to it, but the
        # test goes on, so the app records the wish instead of leaving
        quit_app = app.exit
        app.exit = lambda *args, **kwargs: exits.append(args)  # type: ignore[method-assign]
        rng = random.Random(SEED)
        started, total = time.monotonic(), 0
        for number, keys in enumerate(rounds(rng)):
            await pilot.press(*keys)
            await pilot.pause()
            total += len(keys)
            assert app._exception is None, f"round {number} crashed the app: keys {keys!r}"
            assert app.is_running, f"round {number} ended the app: keys {keys!r}"
        assert total == TOTAL_KEYS
        await pilot.pause()

        # still answering: back to the main screen, then a command opens the pods view
        await pilot.press(*["escape"] * 6)
        answered = time.monotonic()
        await pilot.press(":", "p", "o", " ", "-", "A", "enter")
        await pilot.pause()
        assert isinstance(app.view, ResourceView) and app.view.kind.name == "pods"
        assert app.view.table.row_count > 0
        assert time.monotonic() - answered < 2.0
        app.exit = quit_app  # type: ignore[method-assign]
    assert time.monotonic() - started < 120, "5,000 keys took too long"
    assert app.return_code in (None, 0)
