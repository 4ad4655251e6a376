"""A render's library chatter (diffusers' progress bars, LoRA-key warnings, Python warnings) goes to the page's
render log, not to the terminal the server was started in.

While at least one render runs: the library loggers' handlers are replaced by one that hands each record to the
render whose thread logged it; `sys.stderr`/`sys.stdout` become proxies that do the same for writes from render
threads (tqdm writes there) and pass every other thread's writes through; `warnings.showwarning` likewise. The
last render to finish puts everything back. Records and writes from threads that are not rendering go where they
always went.
"""

from __future__ import annotations

import logging
import sys
import threading
import warnings
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TextIO

LIBRARIES = ("diffusers", "transformers", "peft", "accelerate", "huggingface_hub", "torch", "sigmascene")

Sink = Callable[[str, bool], None]  # (text, replaces the previous line: a progress bar redrawing itself)

_lock = threading.Lock()
_sinks: dict[int, Sink] = {}
_saved: dict[str, Any] = {}


def _sink() -> Sink | None:
    return _sinks.get(threading.get_ident())


class _Stream:
    """sys.stderr / sys.stdout for everyone, with a render thread's writes turned into log lines."""

    def __init__(self, inner: TextIO):
        self.inner = inner
        self._partial: dict[int, str] = {}

    def write(self, text: str) -> int:
        sink = _sink()
        if sink is None:
            return self.inner.write(text)
        ident = threading.get_ident()
        buf = self._partial.get(ident, "") + text
        while True:
            cut = min((i for i in (buf.find("\n"), buf.find("\r")) if i >= 0), default=-1)
            if cut < 0:
                break
            line, sep, buf = buf[:cut], buf[cut], buf[cut + 1:]
            if line.strip():
                sink(line.rstrip(), sep == "\r")
        self._partial[ident] = buf
        return len(text)

    def flush(self) -> None:
        if _sink() is None:
            self.inner.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding...: the real stream's
        return getattr(self.inner, name)


class _Handler(logging.Handler):
    def __init__(self, others: dict[str, list[logging.Handler]]):
        super().__init__()
        self.others = others

    def emit(self, record: logging.LogRecord) -> None:
        sink = _sinks.get(record.thread or 0)
        if sink is not None:
            sink(f"{record.levelname.lower()}: {record.getMessage()}", False)
            return
        top = record.name.split(".")[0]  # not a render: where it always went
        targets = self.others.get(top) or (logging.getLogger().handlers if _saved["propagate"].get(top) else [])
        if not targets and logging.lastResort is not None:
            targets = [logging.lastResort]
        for h in targets:
            if record.levelno >= h.level:
                h.handle(record)


def _show(message, category, filename, lineno, file=None, line=None) -> None:
    sink = _sink()
    if sink is not None:
        sink(f"{category.__name__}: {message}", False)
    else:
        _saved["showwarning"](message, category, filename, lineno, file, line)


def _install() -> None:
    handlers = {name: logging.getLogger(name).handlers[:] for name in LIBRARIES}
    handler = _Handler(handlers)
    _saved.update(handlers=handlers, propagate={n: logging.getLogger(n).propagate for n in LIBRARIES},
                  stderr=sys.stderr, stdout=sys.stdout, showwarning=warnings.showwarning)
    for name in LIBRARIES:
        lg = logging.getLogger(name)
        lg.handlers = [handler]
        lg.propagate = False
    sys.stderr = _Stream(sys.stderr)
    sys.stdout = _Stream(sys.stdout)
    warnings.showwarning = _show


def _restore() -> None:
    for name in LIBRARIES:
        lg = logging.getLogger(name)
        lg.handlers = _saved["handlers"][name]
        lg.propagate = _saved["propagate"][name]
    sys.stderr, sys.stdout = _saved["stderr"], _saved["stdout"]
    warnings.showwarning = _saved["showwarning"]
    _saved.clear()


@contextmanager
def to_page(sink: Sink) -> Iterator[None]:
    """Everything the libraries say in this thread goes to `sink` until the block ends."""
    with _lock:
        if not _sinks:
            _install()
        _sinks[threading.get_ident()] = sink
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")  # each render's warnings reach its page, not only the first one's
            warnings.showwarning = _show
            yield
    finally:
        with _lock:
            _sinks.pop(threading.get_ident(), None)
            if not _sinks:
                _restore()
