"""SerializableFunc: a function that pickles with the source of its file, so a pipeline can be
unpickled elsewhere (a spawned worker, another machine) even when that file has changed or is
not importable there."""
from __future__ import annotations

import functools
import importlib.util
import inspect
import itertools
import os
import sys
import tempfile
import threading

_counter = itertools.count()
_lock = threading.Lock()


class SerializableFunc:
    """Wraps `func` (a module-level function); calling it calls `func`. Pickling saves the whole
    source file of `func` and its name; unpickling runs that source as a fresh module (under a
    unique name, so two versions of one file can coexist) and takes the function from it."""

    def __init__(self, func):
        if isinstance(func, SerializableFunc):
            self.name, self.source, self.func = func.name, func.source, func.func
            return
        self.name = func.__name__
        filename = inspect.getsourcefile(func)
        if filename is None:
            raise RuntimeError(f"cannot find the source file of {func.__name__}")
        with open(filename) as f:
            self.source = f.read()
        self.func = func
        functools.update_wrapper(self, func)

    def __call__(self, *args, **kwargs):
        return self.func(*args, **kwargs)

    def __getstate__(self):
        return self.source, self.name

    def __setstate__(self, state) -> None:
        self.source, self.name = state
        with _lock:
            modname = f"_chute_seq_serialized_{os.getpid()}_{next(_counter)}"
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, modname + ".py")
            with open(path, "w") as f:
                f.write(self.source)
            spec = importlib.util.spec_from_file_location(modname, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[modname] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[modname]
                raise
        self.func = getattr(module, self.name)
        functools.update_wrapper(self, self.func)
