"""The package's shape: every module imports on its own, imports form no cycle (between modules, nor
between subpackages), nothing hides an import of chute inside a function, and no module reaches
into another part of the package through a private name."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import chute

PKG = Path(chute.__file__).parent

# Private modules the rest of the package is meant to import: the extension, the shared helpers and the
# version (written in one place).
SHARED_PRIVATE = {"chute._core", "chute._internal", "chute._version"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _is_module(name: str) -> bool:
    return name in MODULES or name == "chute._core"


def _unit(module: str) -> str:
    """The part of the package a module belongs to: its subpackage (chute.dataset, chute.loader,
    chute._internal), or the module itself at the top level."""
    parts = module.split(".")
    if len(parts) > 2 or (len(parts) == 2 and (PKG / parts[1]).is_dir()):
        return ".".join(parts[:2])
    return module


def _under_type_checking(node: ast.AST, parents: dict) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def _in_function(node: ast.AST, parents: dict) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return True
    return False


def _imports(path: Path):
    """(imported chute module, names imported from it, node, parents) for every import of chute."""
    tree = ast.parse(path.read_text(), str(path))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "chute" or a.name.startswith("chute."):
                    yield a.name, [], node, parents
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                node.module == "chute" or node.module.startswith("chute.")):
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                if _is_module(sub):  # `from chute import ops`: the module chute.ops
                    yield sub, [], node, parents
                else:
                    yield node.module, [a.name], node, parents


def _graph() -> dict[str, set[str]]:
    """Module -> the chute modules it imports when it is imported (imports under TYPE_CHECKING and
    inside functions do not run then)."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for m, path in MODULES.items():
        for target, _, node, parents in _imports(path):
            if _under_type_checking(node, parents) or _in_function(node, parents):
                continue
            if target != m and target in MODULES:
                graph[m].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for t in sorted(graph.get(n, ())):
            if state.get(t) == 1:
                return stack[stack.index(t):] + [t]
            if t not in state:
                found = visit(t)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_the_package_has_its_subpackages():
    for sub in ("dataset", "loader", "_internal"):
        assert (PKG / sub / "__init__.py").is_file(), sub
    for public in ("chute.dataset", "chute.loader", "chute.ops", "chute.random", "chute.errors", "chute.cli",
                   "chute.demo"):
        assert public in MODULES, public


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_imports_alone_in_a_fresh_interpreter(module, tmp_path):
    # cwd is an empty folder: the package's own random.py must not shadow the standard library's
    r = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, cwd=tmp_path,
                       timeout=120)
    assert r.returncode == 0, f"import {module} failed:\n{r.stderr[-3000:]}"


def test_modules_import_each_other_without_a_cycle():
    graph = _graph()
    # the root package imports its parts to re-export them; the parts never import it
    for m, targets in graph.items():
        if m != "chute":
            assert "chute" not in targets or m in ("chute.demo", "chute.demo_train"), \
                f"{m} imports the chute package itself; import the module it needs"
    graph = {m: {t for t in ts if t != "chute"} for m, ts in graph.items()}
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph))}"


def test_subpackages_import_each_other_without_a_cycle():
    units: dict[str, set[str]] = {}
    for m, targets in _graph().items():
        if m == "chute":
            continue
        units.setdefault(_unit(m), set()).update(_unit(t) for t in targets if t != "chute" and _unit(t) != _unit(m))
    assert _cycle(units) is None, f"import cycle between parts of the package: {' -> '.join(_cycle(units))}"
    # the shared helpers sit below everything they serve
    for t in units["chute._internal"]:
        assert t in ("chute.errors", "chute._core"), f"chute._internal imports {t}"


def test_no_import_of_chute_is_hidden_inside_a_function():
    hidden = []
    for path in MODULES.values():
        for target, _, node, parents in _imports(path):
            if _in_function(node, parents):
                hidden.append(f"{path.relative_to(PKG.parent)}:{node.lineno}: {target}")
    assert not hidden, "function-level imports of chute modules:\n" + "\n".join(hidden)


def test_no_module_imports_a_private_name_of_another():
    bad = []
    for m, path in MODULES.items():
        for target, names, node, _parents in _imports(path):
            private_module = [p for p in target.split(".")[1:] if p.startswith("_")]
            if private_module and not any(target == s or target.startswith(s + ".") for s in SHARED_PRIVATE):
                bad.append(f"{m}:{node.lineno} imports the private module {target}")
            for n in names:
                if n.startswith("_") and not n.startswith("__"):
                    bad.append(f"{m}:{node.lineno} imports {n} from {target}")
    assert not bad, "\n".join(bad)


def _private_names_defined(paths: list[Path]) -> set[str]:
    """Private attribute names the code in `paths` defines: methods, class attributes, `self._x =`,
    `object.__setattr__(self, "_x", ...)` and `__slots__` entries."""
    out: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    if isinstance(t, ast.Attribute):
                        out.add(t.attr)
                    elif isinstance(t, ast.Name):
                        out.add(t.id)
                        if t.id == "__slots__" and isinstance(node.value, (ast.Tuple, ast.List)):
                            out.update(e.value for e in node.value.elts if isinstance(e, ast.Constant))
            elif isinstance(node, ast.Call) and ast.unparse(node.func) == "object.__setattr__" and len(node.args) > 1:
                if isinstance(node.args[1], ast.Constant):
                    out.add(node.args[1].value)
    return {n for n in out if isinstance(n, str) and n.startswith("_")}


def test_private_attributes_are_used_only_where_they_are_defined():
    """`obj._x` outside `self` must name something defined in the same part of the package (a
    loader's run may read its builder's state; a Dataset may not reach into a Tensor)."""
    by_unit: dict[str, list[Path]] = {}
    for m, path in MODULES.items():
        by_unit.setdefault(_unit(m), []).append(path)
    defined = {u: _private_names_defined(paths) for u, paths in by_unit.items()}
    # private names of the standard library and of numpy that the package uses on purpose
    allowed = {"_getframe", "_exit"}
    bad = []
    for m, path in MODULES.items():
        own = defined[_unit(m)]
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or node.attr.startswith("__"):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            if node.attr in own or node.attr in allowed:
                continue
            bad.append(f"{path.relative_to(PKG.parent)}:{node.lineno}: {ast.unparse(node)}")
    assert not bad, "private attributes used outside the part of the package that defines them:\n" + "\n".join(bad)


def test_the_dataset_package_is_also_deeplake_dataset(tmp_path):
    import chute.dataset as pkg

    assert chute.dataset is pkg and pkg.Dataset is chute.Dataset
    ds = chute.dataset(tmp_path / "ds")  # creates: Deep Lake's deeplake.dataset(path)
    ds.create_tensor("x")
    ds.x.append(3)
    again = chute.dataset(os.fspath(tmp_path / "ds"))
    assert isinstance(again, chute.Dataset) and again.x.numpy().tolist() == [[3]]
