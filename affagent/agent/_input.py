"""Cleaning and checking the user's message before anything else sees it."""

from __future__ import annotations

import unicodedata

from affagent.errors import InputError

#: Bidirectional-override controls that can make stored text display differently from what
#: the model read; removed with the other control characters.
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


def clean_text(text: object, max_chars: int) -> str:
    """Return the message cleaned, or raise :class:`InputError`.

    - bytes are decoded as UTF-8; invalid sequences and lone surrogates (what Python makes of
      invalid UTF-8 in command-line arguments) become U+FFFD;
    - control characters are removed except newline and tab (``\\r\\n`` and ``\\r`` become
      ``\\n``), as are bidirectional overrides; the text is NFC-normalised and stripped;
    - empty or whitespace-only → ``InputError``; longer than ``max_chars`` characters after
      cleaning → ``InputError`` naming the limit (``AgentConfig.max_message_chars``).
    """
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", errors="replace")
    if not isinstance(text, str):
        raise InputError(f"the message must be text, not {type(text).__name__}")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out = []
    for ch in text:
        o = ord(ch)
        if 0xD800 <= o <= 0xDFFF:
            out.append("\ufffd")
        elif ch in "\n\t":
            out.append(ch)
        elif unicodedata.category(ch) == "Cc" or ch in _BIDI:
            continue
        else:
            out.append(ch)
    cleaned = unicodedata.normalize("NFC", "".join(out)).strip()
    if not cleaned:
        raise InputError("the message is empty; say something")
    if len(cleaned) > max_chars:
        raise InputError(
            f"the message is {len(cleaned)} characters long; the limit is {max_chars} "
            "(AgentConfig.max_message_chars); shorten it or raise the limit"
        )
    return cleaned
