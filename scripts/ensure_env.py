"""Create .env from .env.example with a freshly generated DJANGO_SECRET_KEY.

An existing .env is never overwritten; only a DJANGO_SECRET_KEY that is still the
placeholder (or empty) is replaced, so `cp .env.example .env` is safe too.
Standard library only: this runs before the virtualenv has Django in it.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY_NAME = "DJANGO_SECRET_KEY"
PLACEHOLDERS = {"", "change-me"}
KEY_LINE = re.compile(
    rf"^(?P<prefix>[ \t]*(?:export[ \t]+)?{KEY_NAME}[ \t]*=[ \t]*)(?P<value>.*?)[ \t]*$",
    re.MULTILINE,
)


def new_secret_key() -> str:
    """Return a random key Django's deploy checks accept (long, varied, no insecure prefix)."""
    # token_urlsafe only uses [A-Za-z0-9_-], so the value needs no quoting in .env files.
    return secrets.token_urlsafe(50)


def fill_secret_key(text: str) -> tuple[str, bool]:
    """Return text with every placeholder DJANGO_SECRET_KEY replaced, and whether it changed."""
    changed = False

    def replace(match: re.Match[str]) -> str:
        nonlocal changed
        if match["value"].strip("'\"") not in PLACEHOLDERS:
            return match.group(0)
        changed = True
        return f"{match['prefix']}{new_secret_key()}"

    text = KEY_LINE.sub(replace, text)
    if not KEY_LINE.search(text):
        line = f"{KEY_NAME}={new_secret_key()}\n"
        body = text.rstrip("\n")
        text = f"{body}\n{line}" if body else line
        changed = True
    return text, changed


def write_private(path: Path, text: str) -> None:
    """Write text to path atomically, readable by its owner only (it holds a secret)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--example", type=Path, default=ROOT / ".env.example")
    parser.add_argument("--target", type=Path, default=ROOT / ".env")
    args = parser.parse_args(argv)

    if args.target.exists():
        text, changed = fill_secret_key(args.target.read_text(encoding="utf-8"))
        if changed:
            write_private(args.target, text)
            print(f"{args.target}: generated a new {KEY_NAME} in place of the placeholder")
        else:
            print(f"{args.target}: exists, left unchanged")
        return 0

    if not args.example.exists():
        print(f"error: neither {args.target} nor {args.example} exists", file=sys.stderr)
        return 1
    text, _ = fill_secret_key(args.example.read_text(encoding="utf-8"))
    write_private(args.target, text)
    print(f"{args.target}: created from {args.example.name} with a new {KEY_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
