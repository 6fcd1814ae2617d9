"""Static discovery of models and expectations: ``python -m tarn._discover PROJECT_DIR``.

Reads every ``*.py`` file under PROJECT_DIR with the :mod:`ast` module and
prints one JSON document describing the tarn-decorated functions it finds.
User code is never imported or executed: decorator arguments and
``tarn.Model(...)`` / ``tarn.Parameter(...)`` defaults must be literals
(evaluated with ``ast.literal_eval``) and are validated by the same rules as
the decorators (:mod:`tarn._validate`).

Discovery reads only what it can parse in bounded memory: a ``.py`` file over
:data:`MAX_FILE_BYTES`, or a project whose ``.py`` files hold more than
:data:`MAX_TOTAL_BYTES`, is reported (not parsed), and ``--memory BYTES`` caps
the process's data segment (``RLIMIT_DATA``): a file that needs more is
reported as having run out of memory.

Output (see python/README.md for the full protocol)::

    {"models": [...], "expectations": [...], "errors": [{"file", "line", "column", "message"}]}

A function with any error is reported in ``errors`` only, not in
``models``/``expectations``. Lines and columns are 1-based. The exit status is
0 whenever the JSON was printed (even with errors in user files), 2 for a
usage error, 3 when discovery ran out of memory (stderr names the file it was
reading) and 1 for a bug in discovery itself.

Runs on any Python >= 3.9 with the standard library only.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

from . import _validate

__all__ = ["discover", "main"]

SKIP_DIRS = {"__pycache__", "venv", "node_modules", "site-packages"}

# Positional parameter names and all accepted keywords of each tarn call.
_SIGNATURES: Dict[str, Tuple[Tuple[str, ...], Tuple[str, ...]]] = {
    "model": (
        ("name",),
        (
            "name",
            "columns",
            "materialization_strategy",
            "partitioned_by",
            "overwrite_filter",
            "internet_access",
            "cache_strategy",
            "output_schema",
        ),
    ),
    "expectation": (("name",), ("name",)),
    "python": (("version", "pip"), ("version", "pip")),
    "resources": (("memory", "timeout"), ("memory", "timeout")),
    "Model": (("name", "columns", "filter", "ref"), ("name", "columns", "filter", "ref", "projection_schema", "batches")),
    "TableField": (("name", "doc", "type", "nullable"), ("name", "doc", "type", "nullable")),
    "Parameter": (("name", "default"), ("name", "default")),
}
_DECORATORS = ("model", "expectation", "python", "resources")
_MARKERS = ("Model", "Parameter")
_TYPES = ("Any", "Bool", "Int32", "Int64", "Float64", "Date32", "Date64", "TimestampMicro", "TimestampNano",
          "TimestampMicroUTC", "TimestampNanoUTC", "String", "Binary")
_SCHEMA_NAMES = ("TableSchema", "TableField") + _TYPES
_SCHEMA_ARGS = ("projection_schema", "output_schema")  # a TableSchema class, read from its definition
_PUBLIC = set(_DECORATORS) | set(_MARKERS) | set(_SCHEMA_NAMES)
_STORE = ("save_obj", "load_obj")


def _exported(module: str) -> Optional[Set[str]]:
    """The names tarn's module ``module`` ("" for tarn itself) exports: its ``__all__``, read
    from its source (not imported: discovery runs no SDK code that needs pyarrow), or None
    when there is no such public module."""
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "__init__.py") if not module else os.path.join(here, module + ".py")
    if module.startswith("_") or not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError):
        return None
    names: Set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            try:
                names.update(ast.literal_eval(node.value))
            except ValueError:
                pass
    if not module:  # submodules are importable names of the package too
        names.update(n[:-3] for n in os.listdir(here) if n.endswith(".py") and not n.startswith("_"))
    return names
_FunctionNode = (ast.FunctionDef, ast.AsyncFunctionDef)


def _suggest(name: str, candidates: Set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Located(Exception):
    """An error in a user file at a node's position."""

    def __init__(self, node: Any, message: str) -> None:
        super().__init__(message)
        self.line = getattr(node, "lineno", 1)
        self.column = getattr(node, "col_offset", 0) + 1


def _stdlib_names() -> Set[str]:
    names = getattr(sys, "stdlib_module_names", None)  # Python >= 3.10
    return set(names) if names else set(sys.builtin_module_names)


_STDLIB = _stdlib_names()


def _is_stdlib(module: str) -> bool:
    if module in _STDLIB:
        return True
    if hasattr(sys, "stdlib_module_names"):
        return False
    # Python 3.9: locate the module without importing it (no code runs for a top-level name).
    import importlib.util
    import sysconfig

    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return False
    origin = getattr(spec, "origin", None) or ""
    stdlib = sysconfig.get_paths()["stdlib"]
    return origin.startswith(stdlib) and "site-packages" not in origin


MAX_DEPTH = 64
"""How many folders deep discovery reads; deeper folders are reported, not read."""

MAX_FILE_BYTES = 4 << 20
"""The largest ``.py`` file discovery parses; a larger one is reported, not read."""

MAX_TOTAL_BYTES = 32 << 20
"""The most bytes of ``.py`` files of one project discovery parses; over it, nothing is parsed."""

_DATA_ADVICE = "keep data out of code (in a lake table, or a file of the project the model reads)"


def _size(size: int) -> str:
    """A size as tarn writes it: "5.7 MiB", "1.0 GiB"."""
    shift, unit = (30, "GiB") if size >= 1 << 30 else (20, "MiB")
    return f"{size / (1 << shift):.1f} {unit}"


class _TooLarge(ValueError):
    """A Python file over :data:`MAX_FILE_BYTES`."""

    def __init__(self, size: int) -> None:
        super().__init__(f"{_size(size)}, over the {MAX_FILE_BYTES >> 20} MiB limit for a project's Python file")
        self.size = size


def _read_source(path: str) -> bytes:
    """The bytes of a Python file, refused (:class:`_TooLarge`) before reading when over :data:`MAX_FILE_BYTES`."""
    with open(path, "rb") as source:
        size = os.fstat(source.fileno()).st_size
        if size > MAX_FILE_BYTES:
            raise _TooLarge(size)
        data = source.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:  # it grew since the fstat
        raise _TooLarge(len(data))
    return data


def _file_digest(path: str) -> str:
    """The sha256 of a file's bytes, read in pieces (a file too large to parse is hashed this way)."""
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for piece in iter(lambda: source.read(1 << 20), b""):
            digest.update(piece)
    return digest.hexdigest()


_memory_limit = 0
"""The limit ``--memory`` set (0: none), named in the out-of-memory errors."""


def set_memory_limit(limit_bytes: int) -> None:
    """Cap the data segment (``RLIMIT_DATA``: heap and anonymous maps, where the syntax trees live).

    An allocation over it raises MemoryError, which discovery reports as
    the file that ran out of memory. tarn's sandbox bounds the process too
    (a cgroup, or the address space); this bound holds without a sandbox,
    and fails first, with the file's name.
    """
    global _memory_limit
    try:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_DATA)
        limit = limit_bytes if hard == resource.RLIM_INFINITY else min(limit_bytes, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    except (ImportError, ValueError, OSError):
        return  # not on this system: the sandbox's limits remain
    _memory_limit = limit


class OutOfMemory(Exception):
    """Discovery ran out of memory (its ``--memory`` limit) reading a file."""

    def __init__(self, relative: str) -> None:
        limit = f"its limit of {_size(_memory_limit)}" if _memory_limit else "the memory it may use"
        super().__init__(f"ran out of memory reading {relative}: analysing it needs more than {limit}; {_DATA_ADVICE}")


def _exhausted(exc: BaseException) -> bool:
    """Whether a MemoryError is memory running out, not the parser's stack (which raises MemoryError too).

    The parser overflows its stack on code nested a few thousand deep,
    without using much memory; running out means the process grew to its
    limit (counted as its peak resident size, which the data segment bounds).
    """
    if not isinstance(exc, MemoryError):
        return False
    if not _memory_limit:
        return False
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return peak >= _memory_limit // 2


def iter_python_files(project_dir: str, problems: Optional[List[Dict[str, Any]]] = None) -> Iterator[str]:
    """Project-relative paths (with ``/``) of the ``.py`` files discovery reads, sorted.

    The walk is iterative, so a deep tree does not exhaust Python's
    recursion limit. Folders more than :data:`MAX_DEPTH` deep and folders
    that cannot be listed are skipped and added to ``problems`` (as
    discovery errors) when it is given.
    """
    stack = [("", 0)]
    while stack:
        relative, depth = stack.pop()
        folder = os.path.join(project_dir, relative) if relative else project_dir
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            if problems is not None:
                problems.append(_walk_error(relative, f"cannot list this folder: {exc.strerror or exc}"))
            continue
        dirs = []
        for entry in entries:
            name = entry.name
            path = f"{relative}/{name}" if relative else name
            try:
                is_dir, is_link = entry.is_dir(), entry.is_symlink()
            except OSError:
                continue
            if is_dir:
                if not name.startswith(".") and name not in SKIP_DIRS and not is_link:  # links are not followed
                    dirs.append(path)
            elif name.endswith(".py") and not name.startswith("."):
                yield path
        if dirs and depth + 1 > MAX_DEPTH:
            if problems is not None:
                problems.append(
                    _walk_error(relative, f"folders nest more than {MAX_DEPTH} deep here: tarn reads a project's files "
                                "up to that depth; flatten the project")
                )
            continue
        stack.extend((d, depth + 1) for d in reversed(dirs))


def _walk_error(relative: str, message: str) -> Dict[str, Any]:
    """A discovery error about a folder (its path cut to its first and last parts when long)."""
    parts = relative.split("/") if relative else ["."]
    shown = "/".join(parts[:3] + ["..."] + parts[-3:]) if len(parts) > 8 else "/".join(parts)
    if len(shown) > 200:
        shown = shown[:80] + "..." + shown[-80:]
    return {"file": shown, "line": 1, "column": None, "message": message}


def discover(project_dir: str) -> Dict[str, List[Dict[str, Any]]]:
    """Discover every model and expectation under ``project_dir``."""
    result: Dict[str, List[Dict[str, Any]]] = {"models": [], "expectations": [], "errors": []}
    digests = _CodeDigests(project_dir)
    files, total = [], 0
    for relative in iter_python_files(project_dir, result["errors"]):
        try:
            size = os.stat(os.path.join(project_dir, relative)).st_size
        except OSError:
            size = 0  # the scan reports it
        if size > MAX_FILE_BYTES:
            result["errors"].append({"file": relative, "line": 1, "column": None,
                                     "message": f"{relative} is {_TooLarge(size)}: {_DATA_ADVICE}"})
            continue
        files.append(relative)
        total += size
    if total > MAX_TOTAL_BYTES:
        # Checked before anything is parsed.
        result["errors"].append(
            {"file": "", "line": 1, "column": None,
             "message": f"the project's Python files hold {_size(total)} ({len(files)} files), over the {MAX_TOTAL_BYTES >> 20} MiB "
                        f"limit for all of a project's Python files: {_DATA_ADVICE}"}
        )
        files = []
    for relative in files:
        scanner = _FileScanner(project_dir, relative, digests)
        try:
            scanner.scan()
        except MemoryError as exc:
            if not _exhausted(exc):
                raise
            raise OutOfMemory(relative) from None
        except RecursionError:
            # ast.parse accepts code nested deeper than Python can walk back
            # (ast.dump, literal_eval): report the file rather than fail.
            result["errors"].append(
                {"file": relative, "line": 1, "column": None,
                 "message": "cannot read: its code is nested too deeply for Python to analyse; split the nested "
                            "expressions or blocks"}
            )
            continue
        for key in ("models", "expectations", "errors"):
            result[key].extend(getattr(scanner, key))
    # The standard library's top-level names (Python 3.10+), for tarn's
    # check of imports: here rather than from a second interpreter start.
    names = getattr(sys, "stdlib_module_names", None)
    if names is not None:
        result["stdlib"] = sorted(names)
    return result


class _FileScanner:
    """Finds the tarn functions of one file."""

    def __init__(self, project_dir: str, relative: str, digests: Optional["_CodeDigests"] = None) -> None:
        self.project_dir = project_dir
        self.relative = relative
        self.digests = digests or _CodeDigests(project_dir)
        self.code_hash = ""
        self.uses_store = False
        self.directory = os.path.dirname(os.path.join(project_dir, relative))
        self.models: List[Dict[str, Any]] = []
        self.expectations: List[Dict[str, Any]] = []
        self.errors: List[Dict[str, Any]] = []
        self.module_aliases: Set[str] = set()  # local names bound to the tarn module
        self.names: Dict[str, str] = {}  # local name -> tarn attribute ("model", "Model", ...)

    def error(self, line: int, column: Optional[int], message: str) -> None:
        self.errors.append({"file": self.relative, "line": line, "column": column, "message": message})

    def scan(self) -> None:
        path = os.path.join(self.project_dir, self.relative)
        try:
            tree = ast.parse(_read_source(path), filename=self.relative)
        except SyntaxError as exc:
            self.error(exc.lineno or 1, exc.offset, exc.msg)
            return
        except _TooLarge as exc:
            self.error(1, None, f"{self.relative} is {exc}: {_DATA_ADVICE}")
            return
        except (ValueError, OSError, RecursionError, MemoryError) as exc:
            if _exhausted(exc):
                raise
            self.error(1, None, f"cannot parse: {exc}")
            return

        self.path, self.tree = os.path.realpath(path), tree
        module_level = list(_module_level(tree.body))
        functions = [node for node in module_level if isinstance(node, _FunctionNode)]
        self.record_tarn_imports(node for node in module_level if isinstance(node, (ast.Import, ast.ImportFrom)))
        tarn_functions = [(node, self.decorators(node)) for node in functions]
        tarn_functions = [(node, found) for node, found in tarn_functions if found]
        tarn_nodes = {id(node) for node, _ in tarn_functions}
        self.report_nested(tree, set(id(node) for node in functions))

        # Imports shared by every function of the file: module level, and in
        # helper functions and classes (anything but another tarn function's body).
        shared = [imp for imp in _imports(tree, skip=tarn_nodes)]
        # A file that uses the run's store (tarn.store.save_obj/load_obj,
        # in a model or a helper) has effects beyond its outputs: its
        # steps are never served from the cache.
        self.uses_store = any(
            (isinstance(n, ast.Attribute) and n.attr in _STORE) or (isinstance(n, ast.Name) and n.id in _STORE)
            for n in ast.walk(tree)
        )
        for node, found in tarn_functions:
            own = [imp for statement in node.body for imp in _imports(statement, skip=set())]
            # The code hash leaves out the file's other tarn functions:
            # editing one model does not invalidate its neighbours.
            others = tarn_nodes - {id(node)}
            kept = ast.Module(body=[n for n in tree.body if id(n) not in others], type_ignores=[])
            self.code_hash = self.digests.digest(self.path, tree, own=hashlib.sha256(ast.dump(kept).encode()).hexdigest())
            self.describe(node, found, shared + own)
        self.errors.sort(key=lambda error: (error["line"], error["column"] or 0))

    def record_tarn_imports(self, imports: Iterator[Any]) -> None:
        for node in imports:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == "tarn":
                        self.module_aliases.add(alias.asname or "tarn")
            elif node.module == "tarn" and not node.level:
                for alias in node.names:
                    if alias.name == "*":
                        self.names.update({name: name for name in _PUBLIC})
                    elif alias.name in _PUBLIC:
                        self.names[alias.asname or alias.name] = alias.name
                self.check_exported("", node)
            elif node.module and node.module.startswith("tarn.") and not node.level:
                self.check_exported(node.module[len("tarn."):], node)

    def check_exported(self, module: str, node: Any) -> None:
        """Report names imported from tarn (or a module of it) that it does not have."""
        exported = _exported(module)
        where = "tarn" + ("." + module if module else "")
        if exported is None:
            self.error(node.lineno, node.col_offset + 1, f"there is no module {where}{_suggest(module, _exported('') or set())}")
            return
        for alias in node.names:
            if alias.name != "*" and alias.name not in exported:
                self.error(node.lineno, node.col_offset + 1, f"{where} has no {alias.name!r}{_suggest(alias.name, exported)}")

    def resolve(self, node: Any) -> Optional[str]:
        """The tarn attribute an expression names (``tarn.model`` -> "model"), or None."""
        if isinstance(node, ast.Call):
            node = node.func
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in self.module_aliases and node.attr in _PUBLIC:
                return node.attr
        if isinstance(node, ast.Name):
            return self.names.get(node.id)
        return None

    def decorators(self, node: Any) -> List[Tuple[str, Any]]:
        return [(kind, d) for d in node.decorator_list for kind in [self.resolve(d)] if kind in _DECORATORS]

    def report_nested(self, tree: ast.Module, module_level: Set[int]) -> None:
        for node in ast.walk(tree):
            if isinstance(node, _FunctionNode) and id(node) not in module_level and self.decorators(node):
                self.error(
                    node.lineno,
                    node.col_offset + 1,
                    f"{node.name} is decorated with tarn but is not defined at module level; "
                    "tarn can only run module-level functions",
                )

    def describe(self, node: Any, decorators: List[Tuple[str, Any]], imports: List[Dict[str, Any]]) -> None:
        before = len(self.errors)
        found: Dict[str, Any] = {}
        for kind, decorator in decorators:
            if kind in found:
                self.error(
                    decorator.lineno, decorator.col_offset + 1, f"{node.name} is decorated with @tarn.{kind} twice"
                )
            found[kind] = decorator
        if "model" in found and "expectation" in found:
            self.error(
                node.lineno, node.col_offset + 1, f"{node.name} cannot be both a tarn model and a tarn expectation"
            )
        if "model" not in found and "expectation" not in found:
            extra = " and ".join(f"@tarn.{kind}" for kind in found)
            self.error(
                node.lineno,
                node.col_offset + 1,
                f"{node.name} has {extra} but no @tarn.model or @tarn.expectation; add one, or remove {extra}",
            )
        options = {kind: self.decorator_options(node, kind, decorator) for kind, decorator in found.items()}
        inputs, parameters, other = self.parameters(node)
        if len(self.errors) > before:
            return

        entry: Dict[str, Any] = {}
        if "model" in found:
            model = options["model"]
            entry.update(name=model["name"] or node.name, kind="python")
        else:
            entry.update(name=options["expectation"]["name"] or node.name)
        entry.update(file=self.relative, line=node.lineno, function=node.name)
        if "model" in found:
            for key in (
                "materialization_strategy",
                "partitioned_by",
                "overwrite_filter",
                "internet_access",
                "columns",
                "cache_strategy",
            ):
                entry[key] = options["model"][key]
            if "output_schema" in options["model"]:
                entry["output_schema"] = options["model"]["output_schema"]
        entry.update(
            python=options.get("python"),
            resources=options.get("resources"),
            inputs=inputs,
            parameters=parameters,
            other_params=other,
            imports=self.describe_imports(imports),
            code_hash=self.code_hash,
            uses_store=self.uses_store,
        )
        (self.models if "model" in found else self.expectations).append(entry)

    def call_arguments(self, call: Any, kind: str, where: str) -> Dict[str, Any]:
        """Literal values of a tarn call's arguments, by parameter name."""
        if not isinstance(call, ast.Call):
            return {}
        positional, keywords = _SIGNATURES[kind]
        values: Dict[str, Any] = {}
        if len(call.args) > len(positional):
            raise _Located(
                call, f"{where} takes at most {len(positional)} positional argument(s) ({', '.join(positional)})"
            )
        for name, arg in zip(positional, call.args):
            values[name] = self.column_type(arg, where) if kind == "TableField" and name == "type" else _literal(arg, name, where)
        for keyword in call.keywords:
            if keyword.arg is None:
                raise _Located(
                    keyword.value,
                    f"{where}: **{ast.unparse(keyword.value)} cannot be read statically; write the arguments out",
                )
            if keyword.arg not in keywords:
                raise _Located(keyword, f"{where} has no argument {keyword.arg!r} (valid: {', '.join(keywords)})")
            if keyword.arg in values:
                raise _Located(keyword, f"{where} got {keyword.arg!r} twice")
            if keyword.arg in _SCHEMA_ARGS:
                values[keyword.arg] = self.schema_fields(keyword.value, f"{where}: {keyword.arg}")
            elif kind == "TableField" and keyword.arg == "type":
                values[keyword.arg] = self.column_type(keyword.value, where)
            else:
                values[keyword.arg] = _literal(keyword.value, keyword.arg, where)
        return values

    def column_type(self, node: Any, where: str) -> str:
        """The tarn column type an annotation or ``type=`` names ("Int64"), or a located error."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a string annotation
            try:
                node = ast.parse(node.value, mode="eval").body
            except SyntaxError:
                raise _Located(node, f"{where}: cannot read the annotation {node.value!r}") from None
        if isinstance(node, ast.Subscript) and _name_of(node.value).endswith("Annotated"):
            inner = node.slice.elts[0] if isinstance(node.slice, ast.Tuple) else node.slice
            return self.column_type(inner, where)
        kind = self.resolve(node)
        if kind not in _TYPES:
            raise _Located(node, f"{where}: `{ast.unparse(node)}` is not a tarn column type (use one of {', '.join(_TYPES)})")
        return kind

    def schema_fields(self, node: Any, where: str, depth: int = 0) -> List[Dict[str, Any]]:
        """The fields of the TableSchema class ``node`` names, read from its definition."""
        if not isinstance(node, ast.Name):
            raise _Located(node, f"{where} must name a tarn.TableSchema class defined at module level, not `{ast.unparse(node)}`")
        found = self.find_class(node.id)
        if found is None:
            raise _Located(node, f"{where}: there is no class {node.id} at module level of this file, nor imported from a project module")
        scanner, cls = found
        return scanner.class_fields(cls, where, depth)

    def find_class(self, name: str) -> Optional[Tuple["_FileScanner", Any]]:
        for statement in _module_level(self.tree.body):
            if isinstance(statement, ast.ClassDef) and statement.name == name:
                return self, statement
        for statement in _module_level(self.tree.body):
            if not isinstance(statement, ast.ImportFrom):
                continue
            for alias in statement.names:
                if (alias.asname or alias.name) != name:
                    continue
                other = self.project_module(statement)
                if other is not None:
                    found = other.find_class(alias.name)
                    if found is not None:
                        return found
        return None

    def project_module(self, node: Any) -> Optional["_FileScanner"]:
        """A scanner over the project file ``from MODULE import ...`` reads, or None."""
        parts = node.module.split(".") if node.module else []
        if node.level:
            base = self.directory
            for _ in range(node.level - 1):
                base = os.path.dirname(base)
            bases: Tuple[str, ...] = (base,)
        else:
            bases = (self.directory, self.project_dir)
        for base in bases:
            stem = os.path.join(base, *parts)
            for candidate in (stem + ".py", os.path.join(stem, "__init__.py")):
                real = os.path.realpath(candidate)
                if os.path.isfile(real) and real.startswith(os.path.realpath(self.project_dir) + os.sep) and real != self.path:
                    scanner = _FileScanner(self.project_dir, os.path.relpath(real, self.project_dir), self.digests)
                    try:
                        scanner.tree = ast.parse(_read_source(real), filename=real)
                    except (SyntaxError, ValueError, OSError, RecursionError, MemoryError) as exc:
                        if _exhausted(exc):
                            raise
                        return None
                    scanner.path = real
                    scanner.record_tarn_imports(n for n in _module_level(scanner.tree.body) if isinstance(n, (ast.Import, ast.ImportFrom)))
                    return scanner
        return None

    def class_fields(self, cls: Any, where: str, depth: int) -> List[Dict[str, Any]]:
        """The fields a TableSchema class declares, inherited ones first (the rules of tarn.TableSchema.fields)."""
        if depth > 16:
            raise _Located(cls, f"{where}: schema classes inherit more than 16 deep")
        fields: Dict[str, Dict[str, Any]] = {}
        is_schema = False
        for base in cls.bases:
            if self.resolve(base) == "TableSchema":
                is_schema = True
            elif isinstance(base, ast.Name) and self.find_class(base.id) is not None:
                for field in self.schema_fields(base, where, depth + 1):
                    fields[field["attr"]] = field
                is_schema = True
        if not is_schema:
            raise _Located(cls, f"{where}: class {cls.name} is not a tarn.TableSchema (write class {cls.name}(tarn.TableSchema): ...)")
        for statement in cls.body:
            if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                attr, annotation, value = statement.target.id, statement.annotation, statement.value
            elif isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name):
                attr, annotation, value = statement.targets[0].id, None, statement.value
            else:
                continue
            declared: Dict[str, Any] = {}
            if value is not None:
                if self.resolve(value) != "TableField" or not isinstance(value, ast.Call):
                    if annotation is None:
                        continue  # a plain class attribute, not a column
                    raise _Located(value, f"{where}: field {attr} of {cls.name} must be `= tarn.TableField(...)` or only annotated")
                declared = self.call_arguments(value, "TableField", f"tarn.TableField for {cls.name}.{attr}")
            kind = declared.get("type") or (self.column_type(annotation, f"{where}: field {attr} of {cls.name}") if annotation is not None else None)
            if kind is None:
                raise _Located(statement, f"{where}: field {attr} of {cls.name} has no tarn type; annotate it, e.g. {attr}: tarn.Int64")
            name = declared.get("name") or attr
            if not isinstance(name, str) or (declared.get("doc") is not None and not isinstance(declared["doc"], str)):
                raise _Located(statement, f"{where}: field {attr} of {cls.name}: name and doc must be strings")
            nullable = declared.get("nullable", True)
            if not isinstance(nullable, bool):
                raise _Located(statement, f"{where}: field {attr} of {cls.name}: nullable must be True or False")
            fields[attr] = {"attr": attr, "name": name, "type": kind, "doc": declared.get("doc"), "nullable": nullable}
        out = list(fields.values())
        names = [f["name"] for f in out]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup:
            raise _Located(cls, f"{where}: schema {cls.name} declares column {dup!r} twice")
        if depth == 0:
            out = [{k: v for k, v in f.items() if k != "attr"} for f in out]
        return out

    def decorator_options(self, node: Any, kind: str, decorator: Any) -> Optional[Dict[str, Any]]:
        where = f"@tarn.{kind} on {node.name}"
        validate = {
            "model": _validate.model_options,
            "expectation": _validate.expectation_options,
            "python": _validate.python_options,
            "resources": _validate.resources_options,
        }[kind]
        try:
            values = self.call_arguments(decorator, kind, where)
            schema = values.pop("output_schema", None)
            options = validate(**values)
            if schema is not None:
                if options.get("columns") is not None:
                    raise ValueError("give output_schema or columns, not both (output_schema already names the columns)")
                options["output_schema"] = schema
            return options
        except _Located as exc:
            self.error(exc.line, exc.column, str(exc))
        except (ValueError, TypeError) as exc:
            self.error(decorator.lineno, decorator.col_offset + 1, f"{where}: {exc}")
        return None

    def parameters(self, node: Any) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]], List[Dict[str, Any]]]:
        args = node.args
        positional = list(getattr(args, "posonlyargs", [])) + list(args.args)
        defaults: List[Any] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
        pairs = list(zip(positional, defaults)) + list(zip(args.kwonlyargs, args.kw_defaults))
        inputs: List[Dict[str, Any]] = []
        parameters: List[Dict[str, Any]] = []
        other: List[Dict[str, Any]] = []
        for arg, default in pairs:
            marker = self.resolve(default) if default is not None else None
            if marker not in _MARKERS:
                annotated = self.annotated_marker(arg.annotation)
                if annotated is None:
                    other.append({"param": arg.arg, "line": arg.lineno, "has_default": default is not None})
                    continue
                default = annotated  # Annotated[T, tarn.Model(...)]
                marker = self.resolve(default)
            where = f"tarn.{marker}() for parameter {arg.arg} of {node.name}"
            if not isinstance(default, ast.Call):
                self.error(default.lineno, default.col_offset + 1, f"{where}: call it, e.g. tarn.{marker}('name')")
                continue
            try:
                values = self.call_arguments(default, marker, where)
                if marker == "Model":
                    schema = values.pop("projection_schema", None)
                    if schema is not None:
                        if values.get("columns") is not None:
                            raise ValueError("give projection_schema or columns, not both (projection_schema already names the columns)")
                        values["columns"] = [field["name"] for field in schema]
                    options = _validate.input_options(**values)
                    if arg.annotation is not None and _validate.wants_batches(ast.unparse(arg.annotation)):
                        options["batches"] = True
                    inputs.append(dict(param=arg.arg, **options, line=default.lineno, **({"schema": schema} if schema is not None else {})))
                else:
                    has_default = "default" in values
                    name = _validate.parameter_options(values.get("name"))["name"] or arg.arg
                    parameters.append(
                        {
                            "param": arg.arg,
                            "name": name,
                            "line": default.lineno,
                            "has_default": has_default,
                            "default": values.get("default"),
                        }
                    )
            except _Located as exc:
                self.error(exc.line, exc.column, str(exc))
            except (ValueError, TypeError) as exc:
                self.error(default.lineno, default.col_offset + 1, f"{where}: {exc}")
        return inputs, parameters, other

    def annotated_marker(self, annotation: Any) -> Optional[Any]:
        """The tarn.Model(...) / tarn.Parameter(...) call of an ``Annotated[T, ...]`` annotation, or None."""
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            try:
                annotation = ast.parse(annotation.value, mode="eval").body
            except SyntaxError:
                return None
        if not isinstance(annotation, ast.Subscript) or not _name_of(annotation.value).endswith("Annotated"):
            return None
        items = annotation.slice.elts[1:] if isinstance(annotation.slice, ast.Tuple) else []
        return next((item for item in items if self.resolve(item) in _MARKERS), None)

    def describe_imports(self, imports: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        seen = set()
        described = []
        for item in sorted(imports, key=lambda imp: (imp["line"], imp["module"])):
            key = (item["module"], item["line"])
            if key in seen:
                continue
            seen.add(key)
            described.append(dict(item, origin=self.origin(item["module"])))
        return described

    def origin(self, module: str) -> str:
        if module == "tarn":
            return "tarn"
        for directory in (self.directory, self.project_dir):
            if os.path.isfile(os.path.join(directory, module + ".py")) or os.path.isdir(
                os.path.join(directory, module)
            ):
                return "project"
        return "stdlib" if _is_stdlib(module) else "external"


class _CodeDigests:
    """The code hash of a model: the syntax tree of its file without the file's other tarn functions, and, transitively, those of the project modules it imports.

    The hash is of the tree (``ast.dump``), not the text, so comments,
    blank lines and formatting do not change it; any change to the model's
    code, module-level statements (constants, imports), helper functions
    and classes, or docstrings, does. Project
    modules are files under the project directory that an import statement
    can resolve to (``a.b`` -> ``a.py``, ``a/__init__.py``, ``a/b.py``,
    ``a/b/__init__.py`` next to the file or at the project root, and
    relative imports).
    """

    def __init__(self, project_dir: str) -> None:
        self.project_dir = os.path.realpath(project_dir)
        self.own: Dict[str, str] = {}  # path -> hash of its own tree
        self.deps: Dict[str, List[str]] = {}  # path -> project files it imports

    def digest(self, path: str, tree: Optional[ast.Module] = None, own: Optional[str] = None) -> str:
        """The hash of ``path`` (whose own tree hashes to ``own`` when given) and the project modules it imports."""
        closure: Set[str] = set()
        pending = [path]
        while pending:
            current = pending.pop()
            if current in closure:
                continue
            closure.add(current)
            if current not in self.own:
                self.load(current, tree if current == path else None)
            pending.extend(self.deps[current])
        parts = sorted((os.path.relpath(p, self.project_dir), own if p == path and own else self.own[p]) for p in closure)
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    def load(self, path: str, tree: Optional[ast.Module]) -> None:
        try:
            if tree is None:
                tree = ast.parse(_read_source(path), filename=path)
        except (SyntaxError, ValueError, OSError, RecursionError, MemoryError) as exc:
            if _exhausted(exc):
                raise
            try:
                self.own[path] = _file_digest(path)
            except OSError:
                self.own[path] = "unreadable"
            self.deps[path] = []
            return
        try:
            self.own[path] = hashlib.sha256(ast.dump(tree).encode()).hexdigest()
        except RecursionError:  # parseable, but nested deeper than ast.dump recurses: hash the text
            self.own[path] = _file_digest(path)
        self.deps[path] = sorted(self.resolve(path, tree))

    def resolve(self, path: str, tree: ast.Module) -> Set[str]:
        directory = os.path.dirname(path)
        found: Set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    found |= self.files(alias.name.split("."), (directory, self.project_dir))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = directory
                    for _ in range(node.level - 1):
                        base = os.path.dirname(base)
                    bases: Tuple[str, ...] = (base,)
                else:
                    bases = (directory, self.project_dir)
                module = node.module.split(".") if node.module else []
                if module:
                    found |= self.files(module, bases)
                for alias in node.names:
                    found |= self.files(module + [alias.name], bases)
        return {p for p in found if p != path}

    def files(self, parts: List[str], bases: Tuple[str, ...]) -> Set[str]:
        found = set()
        for base in bases:
            for i in range(1, len(parts) + 1):
                stem = os.path.join(base, *parts[:i])
                for candidate in (stem + ".py", os.path.join(stem, "__init__.py")):
                    real = os.path.realpath(candidate)
                    if os.path.isfile(real) and real.startswith(self.project_dir + os.sep):
                        found.add(real)
        return found


def _module_level(statements: List[Any]) -> Iterator[Any]:
    """Statements executed at module level, including inside if/try/with/for/while blocks."""
    for statement in statements:
        yield statement
        if isinstance(statement, _FunctionNode) or isinstance(statement, ast.ClassDef):
            continue
        for field in ("body", "orelse", "finalbody"):
            yield from _module_level(getattr(statement, field, []))
        for handler in getattr(statement, "handlers", []):
            yield from _module_level(handler.body)


def _imports(node: Any, skip: Set[int]) -> Iterator[Dict[str, Any]]:
    """Top-level module names imported anywhere under ``node``, except under nodes in ``skip``.

    Relative imports and ``__future__`` are left out.
    """
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in skip:
            continue
        if isinstance(current, ast.Import):
            for alias in current.names:
                yield {"module": alias.name.split(".")[0], "line": current.lineno}
        elif isinstance(current, ast.ImportFrom):
            if not current.level and current.module and current.module != "__future__":
                yield {"module": current.module.split(".")[0], "line": current.lineno}
        stack.extend(ast.iter_child_nodes(current))


def _name_of(node: Any) -> str:
    """``a.b.C`` or ``C`` as text (for names such as typing.Annotated), else ""."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return _name_of(node.value) + "." + node.attr
    return ""


def _literal(node: Any, name: str, where: str) -> Any:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise _Located(
            node,
            f"{where}: argument {name!r} must be a literal value, not `{ast.unparse(node)}` "
            "(tarn reads decorators without running your code)",
        ) from None
    problem = _not_json(value)
    if problem:
        raise _Located(node, f"{where}: argument {name!r} holds {problem}, which tarn cannot pass on")
    return list(value) if isinstance(value, tuple) else value


def _not_json(value: Any) -> Optional[str]:
    """Why a literal cannot become JSON, or None."""
    if value is None or isinstance(value, (bool, int, str)):
        return None
    if isinstance(value, float):
        return None if value == value and value not in (float("inf"), float("-inf")) else f"the number {value}"
    if isinstance(value, (list, tuple)):
        return next((p for p in map(_not_json, value) if p), None)
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            return "a dict with non-string keys"
        return next((p for p in map(_not_json, value.values()) if p), None)
    return f"a {type(value).__name__}"


def main(argv: Optional[List[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    memory = 0
    if len(args) == 3 and args[0] == "--memory" and args[1].isdigit():
        memory = int(args[1])
        args = args[2:]
    if len(args) != 1 or args[0] in ("-h", "--help"):
        sys.stderr.write("usage: python -m tarn._discover [--memory BYTES] PROJECT_DIR\n")
        return 2
    project_dir = os.path.abspath(args[0])
    if not os.path.isdir(project_dir):
        sys.stderr.write(f"tarn._discover: {args[0]} is not a directory\n")
        return 2
    if memory:
        set_memory_limit(memory)
    try:
        found = discover(project_dir)
        json.dump(found, sys.stdout, allow_nan=False)
    except OutOfMemory as exc:
        sys.stderr.write(f"tarn._discover: {exc}\n")
        return 3
    except MemoryError:
        sys.stderr.write(f"tarn._discover: ran out of memory: {_DATA_ADVICE}\n")
        return 3
    sys.stdout.write("\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
