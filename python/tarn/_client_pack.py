"""Pack a project folder as the tar.gz ``POST /v1/runs`` takes, with the rules
of the Go client (``client/pack.go``): folders ``.git``, ``.venv``, ``venv``,
``__pycache__``, ``node_modules`` and ``.tarn`` are always left out; the
root ``.gitignore`` is honoured for plain patterns (``*.log``), anchored
patterns (``/build``, ``notes/**/secret.txt``) and folder patterns
(``data/``), and negations (``!keep.log``) are ignored; symbolic links and
other special files are left out; the packed size is limited. Patterns
match as Go's ``path.Match`` does (:func:`_glob`); ``testdata/pack`` holds
the cases both clients are tested against.
"""

from __future__ import annotations

import os
import tarfile
from typing import BinaryIO, List, Optional, Tuple

from ._exceptions import InvalidError

DEFAULT_PROJECT_LIMIT = 64 << 20  # as the Go client's DefaultProjectLimit

ALWAYS_SKIPPED = frozenset({".git", ".venv", "venv", "__pycache__", "node_modules", ".tarn"})

Rule = Tuple[str, bool, bool]  # (pattern, anchored, folders only)


def read_ignore(directory: str) -> List[Rule]:
    """The rules of the project's root ``.gitignore`` (none when it has none)."""
    try:
        with open(os.path.join(directory, ".gitignore"), encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    rules: List[Rule] = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("!"):
            continue
        dir_only = line.endswith("/")
        if dir_only:
            line = line[:-1]
        anchored = "/" in line
        if anchored and line.startswith("/"):
            line = line[1:]
        rules.append((line, anchored, dir_only))
    return rules


def _glob(pattern: str, name: str) -> bool:
    """Go's ``path.Match``, which the Go client uses: ``*`` and ``?`` never match
    '/', ``[...]`` and ``[^...]`` are classes (``[!...]`` is not a negation),
    a backslash escapes the next character, and a malformed pattern matches
    nothing. ``testdata/pack`` holds the cases both clients are tested on."""
    try:
        return _path_match(pattern, name)
    except _BadPattern:
        return False


class _BadPattern(Exception):
    pass


def _path_match(pattern: str, name: str) -> bool:
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return "/" not in name  # a trailing * matches the rest without a slash
        rest = _match_chunk(chunk, name)
        if rest is not None and (not rest or pattern):
            name = rest
            continue
        if star:
            skipped = _match_after_star(chunk, name, last=not pattern)
            if skipped is not None:
                name = skipped
                continue
        while pattern:  # the rest of the pattern must still be well formed
            _, chunk, pattern = _scan_chunk(pattern)
            _match_chunk(chunk, "")
        return False
    return not name


def _match_after_star(chunk: str, name: str, last: bool) -> Optional[str]:
    """What follows ``chunk`` matched after skipping 1.. characters (never '/')."""
    for i in range(len(name)):
        if name[i] == "/":
            break
        rest = _match_chunk(chunk, name[i + 1 :])
        if rest is not None and not (last and rest):
            return rest
    return None


def _scan_chunk(pattern: str) -> Tuple[bool, str, str]:
    """The next run of non-star pattern, and whether stars preceded it."""
    star = False
    while pattern.startswith("*"):
        pattern, star = pattern[1:], True
    in_range = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 1 if i + 1 < len(pattern) else 0
        elif char == "[":
            in_range = True
        elif char == "]":
            in_range = False
        elif char == "*" and not in_range:
            return star, pattern[:i], pattern[i:]
        i += 1
    return star, pattern, ""


def _match_chunk(chunk: str, s: str) -> Optional[str]:
    """The rest of ``s`` after ``chunk`` (literals, classes, ?) matched its start, or None."""
    failed = False
    while chunk:
        failed = failed or not s
        char = chunk[0]
        if char == "[":
            got = None
            if not failed:
                got, s = s[0], s[1:]
            chunk = chunk[1:]
            negated = chunk.startswith("^")
            if negated:
                chunk = chunk[1:]
            matched, ranges = False, 0
            while not (chunk.startswith("]") and ranges > 0):
                low, chunk = _class_char(chunk)
                high = low
                if chunk[0] == "-":
                    high, chunk = _class_char(chunk[1:])
                matched = matched or (got is not None and low <= got <= high)
                ranges += 1
            chunk = chunk[1:]
            failed = failed or matched == negated
        elif char == "?":
            if not failed:
                failed, s = s[0] == "/", s[1:]
            chunk = chunk[1:]
        else:
            if char == "\\":
                chunk = chunk[1:]
                if not chunk:
                    raise _BadPattern()
            if not failed:
                failed, s = chunk[0] != s[0], s[1:]
            chunk = chunk[1:]
    return None if failed else s


def _class_char(chunk: str) -> Tuple[str, str]:
    """A possibly escaped character of a class, and the rest of the chunk."""
    if not chunk or chunk[0] in "-]":
        raise _BadPattern()
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            raise _BadPattern()
    if len(chunk) < 2:
        raise _BadPattern()
    return chunk[0], chunk[1:]


def _match_path(pattern: str, name: str) -> bool:
    pp, np = pattern.split("/"), name.split("/")

    def match(i: int, j: int) -> bool:
        if i == len(pp):
            return j == len(np)
        if pp[i] == "**":
            return any(match(i + 1, k) for k in range(j, len(np) + 1))
        if j == len(np):
            return False
        return _glob(pp[i], np[j]) and match(i + 1, j + 1)

    return match(0, 0)


def ignored(rules: List[Rule], rel: str, is_dir: bool) -> bool:
    """Whether a path relative to the project root (with '/') is left out by the rules."""
    base = rel.rsplit("/", 1)[-1]
    for pattern, anchored, dir_only in rules:
        if dir_only and not is_dir:
            continue
        if anchored:
            if _match_path(pattern, rel):
                return True
        elif _glob(pattern, base):
            return True
    return False


def project_files(directory: str) -> List[Tuple[str, str, bool]]:
    """(relative path, absolute path, is a folder) of everything packed, in lexical walk order."""
    rules = read_ignore(directory)
    out: List[Tuple[str, str, bool]] = []

    def walk(abs_dir: str, rel_dir: str) -> None:
        with os.scandir(abs_dir) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            if (is_dir and entry.name in ALWAYS_SKIPPED) or ignored(rules, rel, is_dir):
                continue
            if is_dir:
                out.append((rel, entry.path, True))
                walk(entry.path, rel)
            elif entry.is_file(follow_symlinks=False):
                out.append((rel, entry.path, False))

    walk(directory, "")
    return out


class _Limited:
    """A write-only file that refuses to grow past a limit."""

    def __init__(self, sink: BinaryIO, limit: int) -> None:
        self.sink, self.limit, self.written = sink, limit, 0

    def write(self, data: bytes) -> int:
        self.written += len(data)
        if self.limit > 0 and self.written > self.limit:
            raise _TooLarge()
        return self.sink.write(data)

    def flush(self) -> None:
        self.sink.flush()


class _TooLarge(Exception):
    pass


def _format_bytes(n: int) -> str:
    value, unit = float(n), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"


def pack(directory: str, sink: BinaryIO, limit: int = DEFAULT_PROJECT_LIMIT) -> None:
    """Write the project in ``directory`` to ``sink`` as tar.gz; InvalidError when missing or past ``limit``."""
    if not os.path.isdir(directory):
        raise InvalidError(f"project folder {directory} not found")
    limited = _Limited(sink, limit)
    try:
        with tarfile.open(fileobj=limited, mode="w|gz", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
            for rel, path, is_dir in project_files(directory):
                info = tar.gettarinfo(path, arcname=rel)
                info.uname = info.gname = ""
                if is_dir:
                    tar.addfile(info)
                else:
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
    except _TooLarge:
        raise InvalidError(
            f"project {directory} is larger than {_format_bytes(limit)} packed: list data files and build outputs "
            "in its .gitignore, or keep data in tables"
        ) from None
