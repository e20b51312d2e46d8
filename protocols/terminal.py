"""PTY output/input -> the command line a user actually submitted (sans-IO).

A shell's line editor (readline, zle, libedit) owns the line: history recall, tab
completion and cursor edits only exist on the screen it draws. So instead of re-implementing
every editor, this keeps a terminal emulator (pyte) of the upstream's output and reads the
line off the screen when a key that can submit it is pressed; the prompt is what stood
left of the cursor when typing began, and is stripped by text (it survives Ctrl-L and
prompt redraws).

Checking never switches off (invariant 9). Every key is one of:

- text or a known editing key (printable, Backspace, arrows, Ctrl-A/E/K/U/W...): sent;
- a key that submits a line (CR, LF = Ctrl-J, Ctrl-O operate-and-get-next, and Ctrl-D
  on a line that may hold text, which a canonical tty hands over): held until the line
  is decided;
- a key whose effect the gateway cannot know (a bare Escape or Meta key outside a known
  set: vi command mode, ``M-#`` insert-comment-and-accept, zsh ``M-a``; ``Ctrl-X`` prefixes
  such as ``C-x C-e`` edit-and-execute; ``Ctrl-V`` quoted insert): held like a submit,
  and the line is decided as ``unknown`` (it may run something no screen shows).

What the submitted line *is* comes from the screen, cross-checked with a model of the keys
typed: while the keys alone determine the editor's buffer (text, Backspace, cursor moves
within the line, kill keys), the screen must show exactly that buffer. A line typed while
nothing is echoed (a password prompt, ``stty -echo``) is ``hidden``: decided (as
``unknown``, never as a shell command) and recorded masked. In a full-screen program
(alternate screen) CR/LF are held and decided as ``unknown`` with the keys typed since
the last decision. A screen that shows something other than what was typed, or output
the emulator could not parse, makes the line ``uncertain`` (``unknown``).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pyte
from wcwidth import wcwidth

PASTE_START = b"\x1b[200~"
PASTE_END = b"\x1b[201~"
_ALT_MODES = frozenset(m << 5 for m in (47, 1047, 1049))  # pyte stores private modes << 5

#: Prompts whose answer is a secret: typed input there is never recorded in clear.
SECRET_PROMPT = re.compile(
    r"(pass(?:word|phrase|code)|passwd|\bpin\b|token|\botp\b|one[- ]?time|secret|"
    r"\b(?:2fa|mfa|totp)\b|(?:verification|security|auth\w*|sms|login) code)"
    r"[^:>\n]*[:>]\s*$",
    re.IGNORECASE,
)
#: bash/zsh incremental history search replaces the prompt with its own.
_SEARCH_PREFIX = re.compile(r"^\((?:failed )?(?:reverse-|bck-|fwd-)?i-search\)`[^']*': ")

ESC = 0x1B
SUBMIT_KEYS = frozenset(b"\r\n\x0f")  # CR, LF (Ctrl-J), Ctrl-O (operate-and-get-next)
#: Control keys that edit or move within the line, or signal; none can submit a line in
#: readline, zle or libedit's default bindings.
_EDIT_KEYS = frozenset(b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\x0b\x0c\x0e\x10\x12\x13\x14")
_EDIT_KEYS |= frozenset(b"\x15\x17\x19\x1a\x1c\x1d\x1f\x7f")
#: Meta (Escape + key) bindings that only move, edit or complete in emacs mode.
_SAFE_META = frozenset(b"bfdBFDulcULCty.<>_pnrR?*/~$@!\\ \x7f\x08")
_RESET_KEYS = frozenset(b"\x03")  # Ctrl-C discards the line
_MAX_KEYS = 4096


class LineKind(StrEnum):
    """How certain the gateway is of what a submitting key would run."""

    COMMAND = "command"  # read off the screen (and consistent with the keys typed)
    HIDDEN = "hidden"  # typed with nothing echoed: a secret, or input nobody can see
    ALTERNATE = "alternate"  # typed in a full-screen program
    UNCERTAIN = "uncertain"  # a key or screen state the gateway cannot interpret


@dataclass(frozen=True, slots=True)
class Submitted:
    """A line the user submitted: the text to classify and the key that submits it.

    For anything but ``COMMAND`` the relay must not classify ``text`` as a shell line:
    it decides the line as ``unknown`` (``why`` says why). ``keys`` are the raw keys typed
    since the last decision (bounded), for the record; never recorded for ``HIDDEN``.
    """

    text: str
    enter: bytes
    kind: LineKind = LineKind.COMMAND
    why: str = ""
    keys: bytes = field(default=b"", compare=False)


class _Screen(pyte.Screen):
    """A pyte screen that ignores private (``CSI ? ... X``) forms of sequences it only
    implements in their public form (vim sends ``CSI ? 4 m``; pyte raised TypeError), and
    renders rows without pyte's ``display``, which raises on an empty cell (a combining
    mark drawn at column 0, found by fuzzing)."""

    @property
    def display(self) -> list[str]:
        rows = []
        for y in range(self.lines):
            line = self.buffer[y]
            cells: list[str] = []
            wide = False
            for x in range(self.columns):
                if wide:
                    wide = False
                    continue
                data = line[x].data
                wide = bool(data) and wcwidth(data[0]) == 2
                cells.append(data)
            rows.append("".join(cells))
        return rows


def _ignore_private(method: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(self: pyte.Screen, *args: Any, private: bool = False, **kwargs: Any) -> Any:
        if private:
            return None
        return method(self, *args, **kwargs)

    return wrapper


def _takes_private(method: Callable[..., Any]) -> bool:
    params = inspect.signature(method).parameters.values()
    return any(p.name == "private" or p.kind is p.VAR_KEYWORD for p in params)


for _name in set(pyte.ByteStream.csi.values()):
    _method = getattr(pyte.Screen, _name)
    if not _takes_private(_method):
        setattr(_Screen, _name, _ignore_private(_method))


class _Stream(pyte.ByteStream):
    """Never raises on output: a sequence that fails is dropped and counted (the parser
    resets itself), so a program's output can neither end the session nor stop checks."""

    errors = 0

    def _send_to_parser(self, data: str) -> bool | None:
        try:
            return super()._send_to_parser(data)
        except Exception:
            self.errors += 1
            return self._taking_plain_text


def _key_end(data: bytes, i: int, alternate: bool) -> tuple[int, str]:
    """The end of the key starting at ``data[i]`` and what it is: text, submit, unsure."""
    byte = data[i]
    if alternate:
        return i + 1, ("submit" if byte in (0x0D, 0x0A) else "text")
    if byte in SUBMIT_KEYS:
        return i + 1, "submit"
    if byte == ESC:
        if i + 1 >= len(data):
            return i + 1, "unsure"  # a bare Escape: vi command mode, or a Meta prefix
        nxt = data[i + 1]
        if nxt == 0x5B:  # CSI: parameters, intermediates, one final byte
            j = i + 2
            while j < len(data) and 0x20 <= data[j] <= 0x3F:
                j += 1
            if j < len(data) and 0x40 <= data[j] <= 0x7E:
                return j + 1, "edit"
            return j, "unsure"
        if nxt == 0x4F and i + 2 < len(data):  # SS3: keypad and function keys
            return i + 3, "edit"
        if nxt in _SAFE_META:
            return i + 2, "edit"
        return i + 2, "unsure"
    if byte in (0x16, 0x11, 0x18):  # Ctrl-V/Ctrl-Q quote the next key, Ctrl-X prefixes
        return min(i + 2, len(data)), "unsure"
    if byte < 0x20 and byte not in _EDIT_KEYS:
        return i + 1, "unsure"
    if byte in _EDIT_KEYS:
        return i + 1, "edit"
    if byte >= 0x80:
        # A line editor with convert-meta on (a non-UTF-8 locale) reads each such byte as
        # a Meta key: 0xA3 is M-#, insert-comment-and-accept. The target's locale is not
        # ours to know, so a non-ASCII character (one UTF-8 sequence) is held and decided.
        j = i + 1
        while j < len(data) and j - i < 4 and (data[j] & 0xC0) == 0x80:
            j += 1
        return j, "unsure"
    return i + 1, "text"


class _LineModel:
    """The line editor's buffer, as far as the keys alone determine it.

    Text, Backspace, Delete, cursor moves within the line (arrows, Home/End, Ctrl-A/E/B/F)
    and the kill keys (Ctrl-U/K/W/D) are modelled; anything else (history, completion,
    yank, search, word moves) makes the model unknown and only the screen tells."""

    __slots__ = ("buf", "pos")

    _LEFT = frozenset({b"\x1b[D", b"\x1bOD", b"\x02"})
    _RIGHT = frozenset({b"\x1b[C", b"\x1bOC", b"\x06"})
    _HOME = frozenset({b"\x1b[H", b"\x1bOH", b"\x1b[1~", b"\x1b[7~", b"\x01"})
    _END = frozenset({b"\x1b[F", b"\x1bOF", b"\x1b[4~", b"\x1b[8~", b"\x05"})
    _NOTHING = frozenset({b"\x0c", b"\x07"})  # redraw, bell

    def __init__(self, buf: str = "") -> None:
        self.buf, self.pos = buf, len(buf)

    def key(self, key: bytes, what: str) -> bool:
        """Apply one key; False if its effect is not modelled."""
        buf, pos = self.buf, self.pos
        if what == "text":
            text = key.decode("ascii", "replace")
            self.buf, self.pos = buf[:pos] + text + buf[pos:], pos + len(text)
        elif key in (b"\x7f", b"\x08"):
            if pos:
                self.buf, self.pos = buf[: pos - 1] + buf[pos:], pos - 1
        elif key in (b"\x1b[3~", b"\x04"):
            self.buf = buf[:pos] + buf[pos + 1 :]
        elif key in self._LEFT:
            self.pos = max(pos - 1, 0)
        elif key in self._RIGHT:
            self.pos = min(pos + 1, len(buf))
        elif key in self._HOME:
            self.pos = 0
        elif key in self._END:
            self.pos = len(buf)
        elif key == b"\x15":  # Ctrl-U: kill to the start of the line
            self.buf, self.pos = buf[pos:], 0
        elif key == b"\x0b":  # Ctrl-K: kill to the end
            self.buf = buf[:pos]
        elif key == b"\x17":  # Ctrl-W: the whitespace-delimited word before the cursor
            head = buf[:pos].rstrip(" ")
            cut = head.rfind(" ") + 1
            self.buf, self.pos = buf[:cut] + buf[pos:], cut
        else:
            return key in self._NOTHING
        return True


class LineTracker:
    """Follows one PTY session; the relay feeds both directions and asks for the line."""

    def __init__(self, cols: int = 80, rows: int = 24) -> None:
        self.screen = _Screen(max(cols, 1), max(rows, 1))
        self._stream = _Stream(self.screen)
        self._prompt: str | None = None  # text left of the cursor when typing began
        self._last_prompt = ""  # the previous non-empty one, for type-ahead before a prompt
        self._in_paste = False
        self._enter = b"\r"
        self._unsure_key = False
        self._typed: _LineModel | None = _LineModel()  # the buffer, while keys determine it
        self._keys = bytearray()  # raw keys since the last decision (bounded)
        self._any_key = False
        self._secret_prompt = False  # the line began at a secret prompt
        self._in_alternate = False  # some of the line was typed in a full-screen program
        self._errors_at_start = 0
        self._tainted = ""  # why an earlier held key makes this line uncertain
        self._prefilled = False  # Ctrl-O put a history line into the next prompt

    # -- output ---------------------------------------------------------------------------
    def feed_output(self, data: bytes) -> None:
        self._stream.feed(data)

    def resize(self, cols: int, rows: int) -> None:
        self.screen.resize(max(rows, 1), max(cols, 1))

    @property
    def alternate(self) -> bool:
        """A full-screen program (vim, less, top) is drawing: the screen holds no line."""
        return bool(self.screen.mode & _ALT_MODES)

    @property
    def echo(self) -> bool:
        """False at a secret prompt: what is typed there must never be recorded in clear.

        Only what is *recorded* depends on this; every line is still decided."""
        if self._prompt is not None and self._secret_prompt:
            return False
        return not SECRET_PROMPT.search(self._left_of_cursor())

    def _cursor_row(self) -> int:
        """The cursor's row, clamped (pyte may leave it past the last row after resize)."""
        return max(0, min(self.screen.cursor.y, self.screen.lines - 1))

    def _left_of_cursor(self) -> str:
        return self.screen.display[self._cursor_row()][: self.screen.cursor.x]

    # -- input ----------------------------------------------------------------------------
    def feed_input(self, data: bytes) -> tuple[bytes, bool, bytes]:
        """Split keystrokes at the first key that may submit a line.

        Returns (bytes to forward now, whether a submitting key was found and withheld,
        the input after it). Bracketed paste is unwrapped so that each pasted line is
        submitted, and so checked, on its own.
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
            alternate = self.alternate
            end, what = _key_end(data, i, alternate)
            key = data[i:end]
            i = end
            self._start_line(alternate)
            if key == b"\x04" and not alternate and (self._typed is None or self._typed.buf):
                # Ctrl-D on a line that may hold text: a canonical tty (dash, a program
                # reading lines) hands the text over without a newline, and a second
                # Ctrl-D runs it. Decided like Enter; on an empty line it is just EOF.
                what = "submit"
            self._note(key, what)
            if what in ("submit", "unsure"):
                self._unsure_key = what == "unsure"
                self._enter = b"\r" if self._in_paste and key == b"\n" else key
                return bytes(out), True, data[i:]
            out += key
        return bytes(out), False, b""

    def _start_line(self, alternate: bool) -> None:
        if alternate:
            self._in_alternate = True
        elif self._in_alternate:
            # The full-screen program has gone. Its keys were not this line's, but keys
            # typed ahead of its exit may be in the shell's buffer: read the screen, and
            # strip only the prompt seen before (the cursor may stand after type-ahead).
            self._in_alternate, self._any_key = False, False
            self._typed = None
            self._prompt = ""
            self._secret_prompt = False
            return
        if self._prompt is not None:
            return
        if self._prefilled:  # left of the cursor is the prompt *and* the recalled line
            self._prompt, self._prefilled = "", False
        else:
            self._prompt = self._left_of_cursor().rstrip()
        if self._prompt and not alternate:
            self._last_prompt = self._prompt
        self._secret_prompt = bool(SECRET_PROMPT.search(self._left_of_cursor()))
        self._errors_at_start = self._stream.errors

    def _note(self, key: bytes, what: str) -> None:
        """Keep the raw keys, and the buffer model while the keys determine it."""
        if len(self._keys) < _MAX_KEYS:
            self._keys += key[: _MAX_KEYS - len(self._keys)]
        if key[0] in _RESET_KEYS:
            self._typed, self._any_key, self._tainted = _LineModel(), False, ""
            self._prompt = None
            return
        if what == "submit":
            return
        self._any_key = True
        if self._typed is not None and not self._typed.key(key, what):
            self._typed = None  # recalled, completed, yanked: only the screen knows now

    def _screen_text(self) -> str:
        """The logical line under the cursor (wrapped rows joined), prompt stripped."""
        display = self.screen.display
        y = self._cursor_row()
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
        return _SEARCH_PREFIX.sub("", text.strip()).strip()

    def line(self) -> Submitted:
        """What the held key would submit, and how certain that is (see module doc)."""
        keys, enter = bytes(self._keys), self._enter
        if self._in_alternate or self.alternate:
            why = "keys typed in a full-screen program (alternate screen) cannot be read"
            return Submitted("", enter, LineKind.ALTERNATE, why, keys)
        text = self._screen_text()
        typed = None if self._typed is None else self._typed.buf
        typed_something = self._any_key and typed != ""
        if not text and typed_something:
            why = "typed while nothing was echoed (a password prompt or echo off)"
            return Submitted("", enter, LineKind.HIDDEN, why, keys)
        if self._secret_prompt and text and typed is not None and text == typed:
            # a secret prompt that echoed: still a secret, never a shell line
            why = "typed at a prompt that asks for a secret"
            return Submitted("", enter, LineKind.HIDDEN, why, keys)
        if self._unsure_key:
            why = f"the key {_show(enter)} may run the line in a way the screen does not show"
            return Submitted(text, enter, LineKind.UNCERTAIN, why, keys)
        if self._tainted:
            return Submitted(text, enter, LineKind.UNCERTAIN, self._tainted, keys)
        if self._stream.errors != self._errors_at_start:
            why = "the terminal output could not be fully parsed"
            return Submitted(text, enter, LineKind.UNCERTAIN, why, keys)
        if typed is not None and typed and text != typed and not text.endswith(typed):
            why = "the screen does not show what was typed"
            return Submitted(text, enter, LineKind.UNCERTAIN, why, keys)
        return Submitted(text, enter, LineKind.COMMAND, "", keys)

    def submitted(self) -> None:
        """The line was sent (or dropped): the next keystroke starts a new line.

        After Ctrl-O (operate-and-get-next) the editor pre-fills the next line from
        history, so the key model starts unknown (the screen says what is there). After
        a held key of unknown effect (vi command mode, ``C-x``, ``C-v``) the line may go
        on, and stays uncertain until a line is submitted or Ctrl-C discards it."""
        if self._unsure_key and not self._in_alternate:
            self._tainted = (
                f"an earlier key ({_show(self._enter)}) had an effect the screen may not show"
            )
            self._unsure_key = False
            self._typed = None
            return
        self._tainted = ""
        prefilled = self._enter == b"\x0f"
        self._prefilled = prefilled
        self._prompt = None
        self._typed = None if prefilled else _LineModel()
        self._keys.clear()
        self._any_key = prefilled
        self._unsure_key = False
        self._secret_prompt = False
        self._in_alternate = False

    def discard_line(self) -> None:
        """The line was refused and killed: nothing of it survives."""
        self._unsure_key = False
        self._tainted = ""
        self.submitted()

    def pending_keys(self) -> bytes:
        """Keys typed at a prompt since the last decision (none in a full-screen program,
        whose keys the relay records as they pass)."""
        return b"" if self._in_alternate or self.alternate else bytes(self._keys)

    def screen_text(self) -> str:
        """The line now under the cursor, prompt stripped (is a killed line really gone?)."""
        return self._screen_text()

    @property
    def secret_line(self) -> bool:
        """Typing has begun at a secret prompt: its echo must not be recorded either."""
        return self._prompt is not None and self._secret_prompt


def _show(key: bytes) -> str:
    """A key as a person would write it (``^X^E``, ``ESC #``)."""
    parts = []
    for b in key:
        if b == ESC:
            parts.append("ESC ")
        elif b < 0x20 or b == 0x7F:
            parts.append("^" + chr(b ^ 0x40))
        else:
            parts.append(chr(b))
    return "".join(parts).strip()


def show_keys(keys: bytes) -> str:
    """Raw keys as readable text for a reviewer (control keys in caret notation)."""
    text = keys.decode("utf-8", "replace")
    return "".join(_show(bytes([ord(c)])) if ord(c) < 0x20 or c == "\x7f" else c for c in text)
