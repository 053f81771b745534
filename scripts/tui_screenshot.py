"""Record the README screenshot of ``affagent chat``: the app at 100×30, headless, after a few
messages, saved as SVG with Textual's ``save_screenshot``.

    .venv/bin/python scripts/tui_screenshot.py                      # scripted backend
    .venv/bin/python scripts/tui_screenshot.py --backend embedded   # the CPU model

Writes ``docs/tui-chat.svg`` (``--out`` to change). Uses a throwaway SQLite store, so it never
touches your sessions.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

MESSAGES = [
    "I failed my driving test this morning and I feel awful.",
    "The examiner was rude and I am so angry about it.",
    "Thanks for listening. I think I will try again next month.",
]


async def record(args: argparse.Namespace) -> Path:
    from affagent.agent import Agent, AgentConfig
    from affagent.tui import ChatApp

    with tempfile.TemporaryDirectory() as tmp:
        config = AgentConfig(
            backend=args.backend,
            persona=args.persona,
            database_url=f"sqlite:///{tmp}/screenshot.db",
            estimator=args.estimator,
            classifier=args.classifier,
            selector=args.selector,
        )
        config.generation.seed = 7
        config.generation.max_tokens = args.max_tokens
        agent = Agent(config)
        app = ChatApp(agent, session_id="readme-demo", export_dir=Path(tmp))
        async with app.run_test(size=(100, 30)) as pilot:
            app.query_one("#prompt").cursor_blink = False  # type: ignore[attr-defined]
            for text in MESSAGES:
                await pilot.press(*text, "enter")
                await app.workers.wait_for_complete()
                await pilot.pause()
            await pilot.pause(0.5)
            out = Path(args.out).resolve()
            out.parent.mkdir(parents=True, exist_ok=True)
            app.save_screenshot(filename=out.name, path=str(out.parent))
        await agent.aclose()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="scripted")
    p.add_argument("--persona", default="calm-counsellor")
    p.add_argument("--estimator", default="default")
    p.add_argument("--classifier", default="goemotions")
    p.add_argument("--selector", default="learned")
    p.add_argument("--max-tokens", type=int, default=40)
    p.add_argument("--out", default="docs/tui-chat.svg")
    print(asyncio.run(record(p.parse_args())))


if __name__ == "__main__":
    main()
