"""What a failed step reports: error type, message, traceback and the user's file and line.

Used by the worker (:mod:`tarn._worker`) for the result JSON; the traceback
starts at user code and is printed to stderr, which is streamed to the user.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # importing typing costs ~2 ms of worker start-up; annotations are never evaluated
    from typing import Any, Dict, Optional, Tuple

__all__ = ["failure", "user_frame", "without_sdk_frames", "assertion_message"]

_SDK_DIR = os.path.dirname(os.path.abspath(__file__))


def user_frame(tb: Any, project_dir: str) -> Optional[Tuple[str, int]]:
    """The innermost traceback frame in a file under ``project_dir``, as (relative path, line)."""
    root = os.path.realpath(project_dir) + os.sep
    found = None
    while tb is not None:
        filename = os.path.realpath(tb.tb_frame.f_code.co_filename)
        if filename.startswith(root):
            found = (os.path.relpath(filename, root).replace(os.sep, "/"), tb.tb_lineno)
        tb = tb.tb_next
    return found


def without_sdk_frames(tb: Any) -> Any:
    """Drop the worker's own leading frames (and importlib's) so the traceback starts in user code."""

    def internal(filename: str) -> bool:
        return filename.startswith("<frozen ") or os.path.abspath(filename).startswith(_SDK_DIR + os.sep)

    while tb is not None and internal(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return tb


def failure(exc: BaseException, spec: Dict[str, Any]) -> Dict[str, Any]:
    """The result document for a user error; also prints the traceback to stderr."""
    import traceback

    project_dir = os.path.abspath(spec.get("project_dir") or ".")
    name = spec.get("name") or spec.get("function") or "step"
    error_type = type(exc).__name__
    message = str(exc)
    location = user_frame(exc.__traceback__, project_dir)
    if isinstance(exc, SyntaxError) and exc.filename and os.path.isabs(exc.filename):
        location = _frame_of_file(exc.filename, exc.lineno, project_dir) or location
    if spec.get("kind") == "sql":
        from . import _sql

        location = (spec.get("file"), _sql.error_line(exc)) if spec.get("file") else None
        if _sql.is_out_of_memory(exc):
            exc = MemoryError(message)
    if isinstance(exc, MemoryError):
        error_type = "MemoryError"
        limit = int(spec.get("memory_limit_bytes") or 0)
        detail = f" ({message})" if message else ""
        if limit:
            message = f"{spec.get('kind', 'step')} {name} exceeded its memory limit of {limit / 2**30:.1f} GiB{detail}"
        else:
            message = f"{spec.get('kind', 'step')} {name} ran out of memory{detail}"
    text = "".join(traceback.format_exception(type(exc), exc, without_sdk_frames(exc.__traceback__)))
    if error_type == "MemoryError":
        hint = "raise it with @tarn.resources(memory=...) or process less data at once" if limit else ""
        text = text.rstrip("\n") + f"\n{message}" + (f"; {hint}" if hint else "") + "\n"
    sys.stderr.write(text)
    return {
        "ok": False,
        "error_type": error_type,
        "message": message,
        "traceback": text,
        "user_file": location[0] if location else None,
        "user_line": location[1] if location else None,
    }


def _frame_of_file(filename: str, line: Optional[int], project_dir: str) -> Optional[Tuple[str, Optional[int]]]:
    root = os.path.realpath(project_dir) + os.sep
    path = os.path.realpath(filename)
    if not path.startswith(root):
        return None
    return os.path.relpath(path, root).replace(os.sep, "/"), line


def assertion_message(exc: AssertionError, project_dir: str) -> str:
    if str(exc):
        return str(exc)
    frame = user_frame(exc.__traceback__, project_dir)
    if frame is None:
        return "assertion failed"
    import linecache

    file, line = frame
    source = linecache.getline(os.path.join(project_dir, file), line).strip()
    return f"assertion failed at {file}:{line}: {source}"
