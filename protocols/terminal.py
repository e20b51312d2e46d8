"""PTY output/input -> the command line a user actually submitted (sans-IO).

A shell's line editor (readline, zle, libedit) owns the line: history recall, tab
completion and cursor edits only exist on the screen it draws. So instead of re-implementing
every editor, this keeps a terminal emulator (pyte) of the upstream's output and reads the
line off the screen when Enter is pressed; the prompt is what stood left of the cursor when
typing began, and is stripped by text (it survives Ctrl-L and prompt redraws).

Best effort by design: a program can draw anything. Relays therefore treat lines typed in
full-screen programs (alternate screen) and at password prompts (echo off) as not being
commands, and targets that need certainty approve the whole session instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyte

PASTE_START = b"\x1b[200~"
PASTE_END = b"\x1b[201~"
_ALT_MODES = frozenset(m << 5 for m in (47, 1047, 1049))  # pyte stores private modes << 5
_PASSWORD_PROMPT = re.compile(r"(password|passphrase|pin)\b[^:]*:\s*$", re.IGNORECASE)
_INTERRUPT = frozenset(b"\x03\x04")  # Ctrl-C drops the line, Ctrl-D may end the shell


@dataclass(frozen=True, slots=True)
class Submitted:
    """A line the user submitted: the text to classify and the Enter that submits it."""

    text: str
    enter: bytes


class LineTracker:
    """Follows one PTY session; the relay feeds both directions and asks for the line."""

    def __init__(self, cols: int = 80, rows: int = 24) -> None:
        self.screen = pyte.Screen(max(cols, 1), max(rows, 1))
        self._stream = pyte.ByteStream(self.screen)
        self._prompt: str | None = None  # text left of the cursor when typing began
        self._last_prompt = ""  # the previous non-empty one, for type-ahead before a prompt
        self._in_paste = False
        self._enter = b"\r"

    # -- output ---------------------------------------------------------------------------
    def feed_output(self, data: bytes) -> None:
        self._stream.feed(data)

    def resize(self, cols: int, rows: int) -> None:
        self.screen.resize(max(rows, 1), max(cols, 1))

    @property
    def alternate(self) -> bool:
        """A full-screen program (vim, less, top) is drawing: keystrokes are not commands."""
        return bool(self.screen.mode & _ALT_MODES)

    @property
    def echo(self) -> bool:
        """False at a password prompt: what is typed must be neither shown nor recorded."""
        return not _PASSWORD_PROMPT.search(self._left_of_cursor())

    def _left_of_cursor(self) -> str:
        cur = self.screen.cursor
        return self.screen.display[cur.y][: cur.x]

    # -- input ----------------------------------------------------------------------------
    def feed_input(self, data: bytes) -> tuple[bytes, bool, bytes]:
        """Split keystrokes at the first Enter that submits a command line.

        Returns (bytes to forward now, whether an Enter was found and withheld, the input
        after it). Bracketed paste is unwrapped so that each pasted line is submitted, and
        so checked, on its own.
        """
        out = bytearray()
        i = 0
        while i < len(data):
            if data.startswith(PASTE_START, i):
                self._in_paste, i = True, i + len(PASTE_START)
                continue
            if data.startswith(PASTE_END, i):
                self._in_paste, i = False, i + len(PASTE_END)
                continue
            byte = data[i]
            i += 1
            if self.alternate or not self.echo:
                out.append(byte)
                continue
            if self._prompt is None:
                self._prompt = self._left_of_cursor().rstrip()
                if self._prompt:
                    self._last_prompt = self._prompt
            if byte in (0x0D, 0x0A):
                self._enter = b"\r" if self._in_paste else bytes([byte])
                return bytes(out), True, data[i:]
            if byte in _INTERRUPT:
                self._prompt = None
            out.append(byte)
        return bytes(out), False, b""

    def line(self) -> Submitted:
        """The logical line under the cursor (wrapped rows joined), prompt stripped."""
        display = self.screen.display
        y = self.screen.cursor.y
        cols = self.screen.columns
        top = y
        while top > 0 and len(display[top - 1].rstrip()) >= cols:
            top -= 1
        bottom = y
        while bottom + 1 < len(display) and len(display[bottom].rstrip()) >= cols:
            if not display[bottom + 1].strip():
                break
            bottom += 1
        text = "".join(display[top : bottom + 1]).rstrip()
        for prompt in sorted({self._prompt or "", self._last_prompt}, key=len, reverse=True):
            if prompt and text.startswith(prompt):
                text = text[len(prompt) :]
                break
        return Submitted(text.strip(), self._enter)

    def submitted(self) -> None:
        """The line was sent (or dropped): the next keystroke starts a new line."""
        self._prompt = None

    discard_line = submitted
