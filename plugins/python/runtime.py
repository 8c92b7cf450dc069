"""The Python half of toolhost's python plugin (plugins/python), compiled into python.so.

python_plugin.cpp runs this file once per loaded python.so, as the module `_toolhost_runtime`,
and calls it for everything that is easier said in Python: finding the tool classes in the
configured folders and describing them (names, operations, JSON Schemas from type hints),
creating and initializing instances, running a call (synchronously on the host's thread, or as
a task on the plugin's one asyncio event loop), and turning results and exceptions into JSON
and status codes. It also builds the `toolhost` module that tool authors import.

Everything here runs with the GIL held. The C++ side (`_native`, the `_toolhost` module of
python_plugin.cpp) supplies logging, progress, cancellation and the deadline of the call
running in the current context, and the wake-up of a host thread waiting for a task.
"""

import asyncio
import collections.abc
import contextvars
import dataclasses
import enum
import functools
import importlib.util
import inspect
import io
import json
import logging
import os
import re
import stat
import sys
import threading
import traceback
import types
import typing

_native = None  # the _toolhost module (C++), set by install()

STATUS = {
    "OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5, "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9, "ABORTED": 10, "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12,
    "INTERNAL": 13, "UNAVAILABLE": 14, "DATA_LOSS": 15, "UNAUTHENTICATED": 16,
}
LEVELS = {"trace": 0, "debug": 1, "info": 2, "warning": 3, "error": 4}
# toolhost/tool.h's TOOLHOST_OPERATION_* bits, by the names an operation spec uses. NONBLOCKING is
# left out on purpose: a Python call needs the GIL, which another thread may hold for a while.
FLAGS = {"idempotent": 1, "read_only": 2, "destructive": 4, "cancellable": 8, "open_world": 16,
         "content_result": 32}
NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
MODULE_PREFIX = "_toolhost_tools"

# ----------------------------------------------------------------------------- the toolhost module


def _status_code(status):
    if isinstance(status, bool):
        raise TypeError("status must be a status name such as 'NOT_FOUND' or a code 1..16")
    if isinstance(status, int):
        if 1 <= status <= 16:
            return status
    elif isinstance(status, str) and status.upper() in STATUS and status.upper() != "OK":
        return STATUS[status.upper()]
    raise ValueError(f"{status!r} is not a toolhost status: use one of "
                     f"{', '.join(n for n in STATUS if n != 'OK')} (toolhost/status.h)")


class ToolError(Exception):
    """Fails the call with `status` (a name from toolhost/status.h, e.g. "NOT_FOUND", or its
    number) and `message`, which the caller sees as it is; no traceback is logged."""

    def __init__(self, message, status="INTERNAL"):
        super().__init__(message)
        self.code = _status_code(status)
        self.status = next(n for n, c in STATUS.items() if c == self.code)
        self.message = str(message)

    def __str__(self):
        return self.message


def log(message, level="info"):
    """Logs `message` on the tool's channel (plugin.<tool>), tagged with the running call."""
    lv = LEVELS.get(level, None) if isinstance(level, str) else level
    if not isinstance(lv, int) or isinstance(lv, bool):
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    _native.log(lv, str(message))


def progress(done, total=0, message=""):
    """Reports the running call's progress: `done` out of `total` (0: unknown)."""
    _native.progress(float(done), float(total), str(message))


def cancelled():
    """True once the running call was cancelled or its deadline passed. A synchronous execute()
    cannot be interrupted: poll this (or call check_cancelled()) in anything that takes long."""
    return _native.cancelled()


def check_cancelled():
    """Raises asyncio.CancelledError when the running call was cancelled (the call then ends
    with CANCELLED, or DEADLINE_EXCEEDED once its deadline passed)."""
    if _native.cancelled():
        raise asyncio.CancelledError("the call was cancelled")


def remaining():
    """Seconds left until the running call's deadline; None without a deadline or outside a call."""
    ns = _native.remaining_ns()
    return None if ns is None else ns / 1e9


def _make_public_module():
    m = types.ModuleType("toolhost", "toolhost's API for Python tools (docs/writing-a-plugin.md).")
    for f in (ToolError, log, progress, cancelled, check_cancelled, remaining):
        f.__module__ = "toolhost"
        setattr(m, f.__name__, f)
    m.STATUS = dict(STATUS)
    m.__all__ = ["ToolError", "log", "progress", "cancelled", "check_cancelled", "remaining", "STATUS"]
    return m


class _LogStream(io.TextIOBase):
    """sys.stdout inside toolhost: stdout carries the MCP stdio protocol and a plugin that writes
    to it while loading is refused, so print() becomes one log line per line."""

    def __init__(self, level):
        super().__init__()
        self._level = level
        self._pending = threading.local()

    def writable(self):
        return True

    def write(self, s):
        text = getattr(self._pending, "text", "") + str(s)
        *lines, rest = text.split("\n")
        for line in lines:
            if line:
                _native.log(self._level, line)
        self._pending.text = rest[-65536:]
        return len(s)

    def flush(self):
        rest = getattr(self._pending, "text", "")
        if rest:
            self._pending.text = ""
            _native.log(self._level, rest)


class _LogHandler(logging.Handler):
    """The standard `logging` module's records (the seed's `logger.info(...)`) go to toolhost."""

    def emit(self, record):
        try:
            n = record.levelno
            level = 4 if n >= logging.ERROR else 3 if n >= logging.WARNING else 2 if n >= logging.INFO else \
                1 if n >= logging.DEBUG else 0
            if _native.log_enabled(level):
                _native.log(level, f"{record.name}: {self.format(record)}")
        except Exception:  # logging never fails the call
            self.handleError(record)


def install(native):
    """Once per loaded python.so: the `toolhost` module, stdout and `logging` to the host's log."""
    global _native
    _native = native
    sys.modules["toolhost"] = _make_public_module()
    sys.stdout = _LogStream(LEVELS["info"])
    root = logging.getLogger()
    for h in list(root.handlers):
        if isinstance(h, _LogHandler) or type(h).__name__ == "_LogHandler":
            root.removeHandler(h)  # an earlier python.so's (a replaced build in this process)
    root.addHandler(_LogHandler())
    lowest = next((lv for lv in range(5) if native.log_enabled(lv)), 4)
    root.setLevel([logging.DEBUG, logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR][lowest])


# ------------------------------------------------------------------------------- the event loop

_loop = None
_loop_thread = None
_loop_lock = threading.Lock()


def _get_loop():
    """The plugin's one event loop, on a thread of its own, started when first needed."""
    global _loop, _loop_thread
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            t = threading.Thread(target=_run_loop, args=(loop,), name="toolhost-asyncio", daemon=True)
            t.start()
            _loop, _loop_thread = loop, t
        return _loop


def _run_loop(loop):
    asyncio.set_event_loop(loop)
    loop.run_forever()


def shutdown():
    """deinit(): cancels what still runs on the loop, stops it and joins its thread."""
    global _loop, _loop_thread
    with _loop_lock:
        loop, thread, _loop, _loop_thread = _loop, _loop_thread, None, None
    if loop is None:
        return

    def stop():
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.call_soon(loop.stop)
    loop.call_soon_threadsafe(stop)
    thread.join(10)
    if not thread.is_alive():
        loop.close()
    sys.stdout.flush()


# ------------------------------------------------------------------------------------ problems


class Problem(Exception):
    """Why a file or a class is not served: the message names both; details is a traceback."""

    def __init__(self, message, details=None):
        super().__init__(message)
        self.details = details


def _where(path):
    return os.path.relpath(path) if not os.path.isabs(path) else path


def _unsafe(path, what, st):
    # The loader's rule for plugin files (ssh's for keys): code another user could replace is refused.
    if st.st_uid not in (0, os.geteuid()):
        return (f"{path}: refused: the {what} is owned by uid {st.st_uid}, neither root nor the user "
                f"running toolhost (uid {os.geteuid()})")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        by = "others" if st.st_mode & stat.S_IWOTH else "its group"
        return (f"{path}: refused: the {what} is writable by {by} (mode {stat.S_IMODE(st.st_mode):04o}), so "
                f"another user could replace the code; fix with: chmod go-w '{path}'")
    return None


RUNTIME_FILE = "<python.so runtime.py>"  # this file's name in tracebacks (python_plugin.cpp)


def _short_traceback(exc, path=None):
    """The traceback without this file's frames and importlib's, and where it was raised: the
    last frame in `path` if there is one, else the last frame."""
    te = traceback.TracebackException.from_exception(exc)
    for t in _chain(te):
        t.stack = traceback.StackSummary.from_list(
            [f for f in t.stack if f.filename != RUNTIME_FILE and not f.filename.startswith("<frozen importlib")])
    text = "".join(te.format())
    if isinstance(exc, SyntaxError) and exc.filename:
        return text, f"{os.path.basename(exc.filename)}:{exc.lineno}"
    frames = te.stack
    pick = None
    for fr in frames:
        if path is None or os.path.realpath(fr.filename) == os.path.realpath(path):
            pick = fr
    if pick is None and frames:
        pick = frames[-1]
    return text, (f"{os.path.basename(pick.filename)}:{pick.lineno}" if pick else None)


def _chain(te):
    seen = set()
    while te is not None and id(te) not in seen:
        seen.add(id(te))
        yield te
        te = te.__cause__ or (None if te.__suppress_context__ else te.__context__)


# ---------------------------------------------------------------------------------- schemas

_ARGS_RE = re.compile(r"^\s*(Args|Arguments|Parameters):\s*$")
_PARAM_RE = re.compile(r"^\s+\**(\w+)\s*(?:\([^)]*\))?\s*:\s*(.+)$")


def _doc_summary(obj):
    # The object's own docstring: inspect.getdoc() would fall back to an inherited one (a
    # __call__ without a docstring would read "Call self as a function.").
    doc = inspect.cleandoc(obj.__doc__) if isinstance(getattr(obj, "__doc__", None), str) else ""
    return doc.split("\n\n", 1)[0].strip().replace("\n", " ")


def _param_docs(fn):
    """Google-style `Args:` sections, as the seed writes them: {name: description}."""
    out, inside = {}, False
    for line in (inspect.getdoc(fn) or "").splitlines():
        if _ARGS_RE.match(line):
            inside = True
            continue
        if inside:
            if line and not line[0].isspace():
                break
            m = _PARAM_RE.match("    " + line.strip()) if line.strip() else None
            if m:
                out[m.group(1)] = m.group(2).strip()
    return out


def _nullable(s):
    s = dict(s)
    if isinstance(s.get("type"), str) and "enum" not in s:
        s["type"] = [s["type"], "null"]
        return s
    if not s:
        return s
    return {"anyOf": [s, {"type": "null"}]}


def _type_schema(t):
    """JSON Schema (draft-07) of a type hint; {} (any value) for what JSON cannot express."""
    if t is inspect.Parameter.empty or t is typing.Any or t is object:
        return {}
    if t is None or t is type(None):
        return {"type": "null"}
    origin, args = typing.get_origin(t), typing.get_args(t)
    if origin is typing.Annotated:
        return _type_schema(args[0])
    if origin is typing.Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        real = [a for a in args if a is not type(None)]
        subs = [_type_schema(a) for a in real]
        if any(s == {} for s in subs):
            return {}
        s = subs[0] if len(subs) == 1 else {"anyOf": subs}
        return _nullable(s) if len(real) != len(args) else s
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (list, set, frozenset, collections.abc.Sequence, collections.abc.Iterable,
                  collections.abc.Set, collections.abc.MutableSequence):
        return {"type": "array", "items": _type_schema(args[0])} if args else {"type": "array"}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _type_schema(args[0])}
        if args:
            return {"type": "array", "items": [_type_schema(a) for a in args], "minItems": len(args),
                    "maxItems": len(args)}
        return {"type": "array"}
    if origin in (dict, collections.abc.Mapping, collections.abc.MutableMapping):
        if len(args) == 2 and _type_schema(args[1]):
            return {"type": "object", "additionalProperties": _type_schema(args[1])}
        return {"type": "object"}
    if t is bool:
        return {"type": "boolean"}
    if t is int:
        return {"type": "integer"}
    if t is float:
        return {"type": "number"}
    if t is str:
        return {"type": "string"}
    if t in (list, tuple, set, frozenset):
        return {"type": "array"}
    if t is dict:
        return {"type": "object"}
    if isinstance(t, type) and issubclass(t, enum.Enum):
        values = [m.value for m in t]
        if all(isinstance(v, (str, int, float, bool)) for v in values):
            return {"enum": values}
    return {}


def _schema_from_signature(fn, skip_self, where):
    """An input schema from a method's parameters: their type hints, defaults (a parameter
    without one is required) and Args: docs; **kwargs allows other properties."""
    sig = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:  # a hint that does not resolve: the parameter takes any value
        hints = {}
    docs = _param_docs(fn)
    params = list(sig.parameters.values())[1:] if skip_self else list(sig.parameters.values())
    props, required, extra = {}, [], False
    for p in params:
        if p.kind is p.VAR_KEYWORD:
            extra = True
            continue
        if p.kind is p.VAR_POSITIONAL:
            continue
        if p.kind is p.POSITIONAL_ONLY:
            raise Problem(f"{where}: parameter '{p.name}' is positional-only, but arguments arrive as keywords")
        s = _type_schema(hints.get(p.name, p.annotation))
        if p.name in docs:
            s = dict(s, description=docs[p.name])
        if p.default is p.empty:
            required.append(p.name)
        else:
            try:
                json.dumps(p.default, allow_nan=False)
                if p.default is not None:
                    s = dict(s, default=p.default)
            except (TypeError, ValueError):
                pass
        props[p.name] = s
    schema = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = extra
    return schema


def _json_object_text(value, where):
    """A schema given as a dict or as JSON text, checked to be an object; JSON text back."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as e:
            raise Problem(f"{where} is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise Problem(f"{where} must be a JSON Schema object (a dict), not {type(value).__name__}")
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise Problem(f"{where} cannot be written as JSON: {e}") from None


def _flags(value, where):
    if value is None:
        return 0
    if isinstance(value, dict):
        value = [k for k, on in value.items() if on]
    if isinstance(value, str):
        value = [value]
    bits = 0
    for f in value:
        if f not in FLAGS:
            raise Problem(f"{where}: unknown flag {f!r} (known: {', '.join(FLAGS)})")
        bits |= FLAGS[f]
    return bits


def _is_async(fn):
    return inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn) or (
        callable(fn) and inspect.iscoroutinefunction(getattr(fn, "__call__", None)))


# ------------------------------------------------------------------------------- tool classes


class ToolEntry:
    """A served tool class: where it came from, its descriptor, how each operation is run."""

    def __init__(self, cls, path, descriptor, methods):
        self.cls, self.path, self.descriptor, self.methods = cls, path, descriptor, methods

    @property
    def name(self):
        return self.descriptor["name"]

    def label(self):
        return f"python tool '{self.name}' (class {self.cls.__name__} in {self.path})"


def _has_own(cls, attr):
    return any(attr in vars(k) for k in cls.__mro__[:-1])


def _candidates(module):
    explicit = getattr(module, "TOOLS", None)
    if explicit is not None:
        if not isinstance(explicit, (list, tuple)) or not all(isinstance(c, type) for c in explicit):
            raise Problem("TOOLS must be a list of tool classes")
        return list(explicit)
    found = [c for c in vars(module).values()
             if isinstance(c, type) and c.__module__ == module.__name__ and not c.__name__.startswith("_")
             and (_has_own(c, "execute") or _has_own(c, "__call__") or _has_own(c, "operations"))
             and not inspect.isabstract(c)]
    # A base class in the same file (its subclasses are the tools) is not a tool itself, unless
    # it names one.
    bases = {b for c in found for b in c.__mro__[1:]}
    return [c for c in found if c not in bases or isinstance(vars(c).get("name"), str)]


def _describe(cls, path):
    where = f"{path}: class {cls.__name__}"
    name, instance = getattr(cls, "name", None), None
    if not isinstance(name, str):
        # The seed's tools set name and description in __init__: construct one to read them.
        try:
            instance = cls()
        except Exception as e:
            text, at = _short_traceback(e, path)
            raise Problem(f"{where}: it has no `name` class attribute, and {cls.__name__}() raised "
                          f"{type(e).__name__}: {e}" + (f" (at {at})" if at else ""), text) from None
        name = getattr(instance, "name", None)
    if not isinstance(name, str):
        raise Problem(f"{where}: no tool name: give the class a `name` attribute (a string of 1 to 64 "
                      f"characters [A-Za-z0-9_-] starting with a letter)")
    if not NAME_RE.fullmatch(name):
        raise Problem(f"{where}: the tool name {name!r} is not 1 to 64 characters [A-Za-z0-9_-] starting "
                      f"with a letter")
    holder = instance if instance is not None else cls
    description = getattr(holder, "description", None)
    if not isinstance(description, str):
        description = _doc_summary(cls)
    version = getattr(cls, "version", None)
    if not isinstance(version, str):
        version = getattr(sys.modules.get(cls.__module__), "__version__", "1.0.0")
        version = version if isinstance(version, str) else "1.0.0"
    config_schema = getattr(cls, "config_schema", None)
    if config_schema is not None:
        config_schema = _json_object_text(config_schema, f"{where}: config_schema")
    else:
        init = getattr(cls, "initialize", None) or getattr(cls, "_initialize", None)
        if init is not None and len(list(inspect.signature(init).parameters)) > 1:
            config_schema = '{"type":"object"}'  # initialize(config): any configuration object
    thread_safe = getattr(cls, "thread_safe", True)

    spec = getattr(cls, "operations", None)
    if spec is None:
        method = "execute" if _has_own(cls, "execute") else "__call__"
        op = getattr(cls, "operation", "execute")
        spec = {op: {"method": method,
                     "input_schema": getattr(cls, "input_schema", None),
                     "output_schema": getattr(cls, "output_schema", None),
                     "flags": getattr(cls, "flags", None)}}
    if not isinstance(spec, dict) or not spec:
        raise Problem(f"{where}: `operations` must be a non-empty dict {{operation name: spec}}")
    operations, methods = [], {}
    for op_name, op in spec.items():
        op_where = f"{where}: operation {op_name!r}"
        if not isinstance(op_name, str) or not NAME_RE.fullmatch(op_name):
            raise Problem(f"{op_where}: the name is not 1 to 64 characters [A-Za-z0-9_-] starting with a letter")
        if op is None:
            op = {}
        if not isinstance(op, dict):
            raise Problem(f"{op_where}: the spec must be a dict (description, input_schema, method, flags, ...)")
        unknown = set(op) - {"method", "description", "input_schema", "output_schema", "flags", "role"}
        if unknown:
            raise Problem(f"{op_where}: unknown spec key(s) {', '.join(sorted(map(str, unknown)))}")
        method = op.get("method") or (op_name if _has_own(cls, op_name) else
                                      "execute" if _has_own(cls, "execute") else "__call__")
        raw = inspect.getattr_static(cls, method, None)
        fn = getattr(cls, method, None)
        if fn is None or not callable(fn) or (method == "__call__" and not _has_own(cls, "__call__")):
            raise Problem(f"{op_where}: the class has no method {method!r} to run it")
        skip_self = not isinstance(raw, (staticmethod, classmethod))
        if op.get("input_schema") is not None:
            input_schema = _json_object_text(op["input_schema"], f"{op_where}: input_schema")
        else:
            input_schema = json.dumps(_schema_from_signature(fn, skip_self, f"{op_where}: {method}()"),
                                      allow_nan=False, separators=(",", ":"))
        output_schema = op.get("output_schema")
        if output_schema is not None:
            output_schema = _json_object_text(output_schema, f"{op_where}: output_schema")
        role = op.get("role")
        if role is not None:
            role = _json_object_text(role, f"{op_where}: role")
        flags = _flags(op.get("flags"), op_where)
        is_async = _is_async(fn)
        if is_async:
            flags |= FLAGS["cancellable"]  # cancellation reaches the coroutine
        desc = op.get("description")
        if not isinstance(desc, str):
            desc = _doc_summary(fn) or (description if len(spec) == 1 else "")
        operations.append({"name": op_name, "description": desc, "input_schema": input_schema,
                           "output_schema": output_schema, "flags": flags, "role": role})
        methods[op_name] = method
    descriptor = {"name": name, "version": version, "description": description, "config_schema": config_schema,
                  "thread_safe": bool(thread_safe), "operations": operations}
    return ToolEntry(cls, path, descriptor, methods)


_tools = []  # the served ToolEntry objects, in tool index order


def discover(folders):
    """Reads every *.py file of `folders` (sorted, not those starting with _ or .), imports it and
    describes its tool classes. Returns (descriptors, problems): a list of descriptor dicts in
    tool index order, and a list of (message, details) for what could not be served."""
    problems, seen_names, seen_stems = [], {}, set()
    _tools.clear()
    for folder in folders:
        _native.depends_on_path(folder)
        try:
            st = os.stat(folder)
        except OSError as e:
            problems.append((f"{folder}: the Python tool folder cannot be read: {e.strerror}", None))
            continue
        if not stat.S_ISDIR(st.st_mode):
            problems.append((f"{folder}: not a folder (a Python tool folder holds *.py files)", None))
            continue
        why = _unsafe(folder, "folder", st)
        if why:
            problems.append((why, None))
            continue
        if folder not in sys.path:
            sys.path.insert(0, folder)  # the tool files import their own helper modules
        for entry in sorted(os.listdir(folder)):
            if not entry.endswith(".py") or entry.startswith(("_", ".")):
                continue
            path = os.path.join(folder, entry)
            _native.depends_on_path(path)
            try:
                st = os.stat(path)
            except OSError as e:
                problems.append((f"{path}: cannot be read: {e.strerror}", None))
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            why = _unsafe(path, "file", st)
            if why:
                problems.append((why, None))
                continue
            stem = entry[:-3]
            mod_name = f"{MODULE_PREFIX}.{stem}"
            n = 2
            while mod_name in seen_stems:
                mod_name, n = f"{MODULE_PREFIX}.{stem}_{n}", n + 1
            seen_stems.add(mod_name)
            try:
                module = _import_file(mod_name, path)
            except BaseException as e:  # SystemExit and KeyboardInterrupt too: never take the host down
                text, at = _short_traceback(e, path)
                problems.append((f"{path}: cannot import it: {type(e).__name__}: {e}"
                                 + (f" (at {at})" if at and not isinstance(e, SyntaxError) else "")
                                 + "; its tools are not served", text))
                continue
            try:
                classes = _candidates(module)
            except Problem as p:
                problems.append((f"{path}: {p}", None))
                continue
            for cls in classes:
                try:
                    t = _describe(cls, path)
                except Problem as p:
                    problems.append((str(p), p.details))
                    continue
                except Exception as e:
                    text, at = _short_traceback(e, path)
                    problems.append((f"{path}: class {cls.__name__}: cannot be described: "
                                     f"{type(e).__name__}: {e}", text))
                    continue
                if t.name in seen_names:
                    other = seen_names[t.name]
                    problems.append((f"{path}: class {cls.__name__}: the tool name '{t.name}' is already taken by "
                                     f"class {other.cls.__name__} in {other.path}; it is not served twice", None))
                    continue
                seen_names[t.name] = t
                _tools.append(t)
    # Helper modules the tool files imported from these folders are inputs of the tool list too.
    for m in list(sys.modules.values()):
        f = getattr(m, "__file__", None)
        if isinstance(f, str) and any(f.startswith(os.path.join(d, "")) for d in folders):
            _native.depends_on_path(f)
    return [t.descriptor for t in _tools], problems


def _import_file(mod_name, path):
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)
    if MODULE_PREFIX not in sys.modules:
        pkg = types.ModuleType(MODULE_PREFIX, "toolhost's Python tool files")
        pkg.__path__ = []
        sys.modules[MODULE_PREFIX] = pkg
    sys.modules[mod_name] = module  # dataclasses, pickle and typing look the module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[mod_name]
        raise
    return module


# -------------------------------------------------------------------------------------- calls


class _Escaped(Exception):
    """SystemExit or KeyboardInterrupt raised by a tool: must not stop the event loop."""


async def _guarded(awaitable):
    try:
        return await awaitable
    except (SystemExit, KeyboardInterrupt) as e:
        raise _Escaped(f"{type(e).__name__}({e})") from e


def _json_default(o):
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    if isinstance(o, enum.Enum):
        return o.value
    for method in ("model_dump", "to_dict", "dict"):
        f = getattr(o, method, None)
        if callable(f) and not isinstance(o, type):
            return f()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


class Job:
    """One piece of a tool's work: run on the calling thread, and when that returns an awaitable,
    as a task on the plugin's event loop. `notify` is called once it is done; then `code`, `text`
    and `details` say how it ended (a status, the result JSON or the message, a traceback)."""

    def __init__(self, scope, notify, what, path):
        self.ctx = contextvars.copy_context()
        self.ctx.run(_native.scope.set, scope)
        self.notify, self.what, self.path = notify, what, path
        self.done = False
        self.code, self.text, self.details = 13, "", None
        self.task = None
        self.cancel_requested = False
        self.serialize = True
        self._lock = threading.Lock()

    def run(self, fn, *args, **kwargs):
        try:
            value = self.ctx.run(fn, *args, **kwargs)
        except BaseException as e:
            self._fail(e)
            return self
        if inspect.isawaitable(value):
            _get_loop().call_soon_threadsafe(self._start, value)
        else:
            self._succeed(value)
        return self

    def _start(self, awaitable):  # on the loop
        if self.cancel_requested:
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            self._fail(asyncio.CancelledError())
            return
        self.task = asyncio.get_running_loop().create_task(_guarded(awaitable), context=self.ctx)
        self.task.add_done_callback(self._task_done)

    def _task_done(self, task):  # on the loop
        self.task = None  # the task refers to this job (its callback): no cycle left behind
        if task.cancelled():
            self._fail(asyncio.CancelledError())
            return
        e = task.exception()
        if e is not None:
            self._fail(e.__cause__ if isinstance(e, _Escaped) and e.__cause__ else e)
        else:
            self._succeed(task.result())

    def cancel(self):
        """Any thread: cancels the task (CancelledError is raised where the coroutine awaits)."""
        self.cancel_requested = True
        loop = _loop
        if loop is not None and not self.done:
            loop.call_soon_threadsafe(self._cancel_on_loop)

    def _cancel_on_loop(self):
        if self.task is not None:
            self.task.cancel()

    def _succeed(self, value):
        if self.serialize:
            try:
                self.code, self.text = 0, json.dumps(value, default=_json_default, ensure_ascii=True, allow_nan=False,
                                                     separators=(",", ":"))
            except (TypeError, ValueError, RecursionError) as e:
                self.code, self.text = 13, f"{self.what} returned a value that is not JSON: {e}"
        else:
            self.code, self.text = 0, ""
        self._finish()

    def _fail(self, e):
        self.code, self.text, self.details = exception_outcome(e, self.what, self.path)
        self._finish()

    def _finish(self):
        with self._lock:
            self.done = True
        self.notify()


def exception_outcome(e, what, path):
    """(status code, message, traceback or None) for an exception a tool raised."""
    if isinstance(e, ToolError):
        return e.code, e.message, None
    status = getattr(e, "toolhost_status", None)  # a ToolError of the tool's own, by duck typing
    if status is not None:
        try:
            return _status_code(status), str(e), None
        except (TypeError, ValueError):
            pass
    if isinstance(e, asyncio.CancelledError):
        return 1, f"{what} was cancelled", None
    text, at = _short_traceback(e, path)
    code = 12 if isinstance(e, NotImplementedError) else 13
    where = f" (at {at}; the traceback is in the tool's log)" if at else ""
    return code, f"{what} raised {type(e).__name__}: {e}{where}", text


class Instance:
    """One toolhost instance of a tool class: the object, once initialize() created it."""

    def __init__(self, index):
        self.entry = _tools[index]
        self.obj = None

    def start_initialize(self, config_json, data_dir, scope, notify):
        e = self.entry
        job = Job(scope, notify, f"{e.name}: initialize()", e.path)
        job.serialize = False
        config = json.loads(config_json)

        def body():
            try:
                self.obj = e.cls()
            except Exception as exc:
                raise RuntimeError(f"{e.cls.__name__}() raised {type(exc).__name__}: {exc}") from exc
            init = getattr(self.obj, "initialize", None)
            if not callable(init):
                init = getattr(self.obj, "_initialize", None)
            if not callable(init):
                return None
            n = len([p for p in inspect.signature(init).parameters.values()
                     if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])
            return init(*[config, data_dir][:n])
        job.what = f"{e.label()}: initialize()"
        return job.run(body)

    def start_call(self, operation, arguments_json, scope, notify):
        e = self.entry
        what = f"{e.name}.{operation}"
        job = Job(scope, notify, what, e.path)
        method = e.methods.get(operation)
        if method is None or self.obj is None:
            job.code, job.text, job.done = 12, f"{e.name} has no operation '{operation}'", True
            return job
        fn = getattr(self.obj, method)
        kwargs = json.loads(arguments_json)
        try:
            inspect.signature(fn).bind(**kwargs)
        except TypeError as exc:
            job.code, job.text, job.done = 3, f"{what}: {exc}", True
            return job
        except ValueError:
            pass  # no signature to check (a builtin): the call says
        return job.run(fn, **kwargs)

    def start_cleanup(self, scope, notify):
        e = self.entry
        job = Job(scope, notify, f"{e.label()}: cleanup()", e.path)
        job.serialize = False
        fn = getattr(self.obj, "cleanup", None) if self.obj is not None else None
        if not callable(fn):
            job.code, job.done = 0, True
            return job
        return job.run(fn)


def new_instance(index):
    return Instance(index)


def signal_after(native_signal, waiter):
    return functools.partial(native_signal, waiter)
