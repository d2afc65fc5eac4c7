"""Version control views of a dataset, as Deep Lake 3 shows them: `ds.commits`, `ds.log()`,
`ds.diff()`, `ds.get_commit_details()`.

The engine (`_core.Dataset.commit / checkout / reset / delete_branch`) changes the commit tree and
answers what one node changed (`node_changes`); this module walks the tree
(version_control_info.json) and lays the answers out in Deep Lake 3's shapes.
"""
from __future__ import annotations

import json
from datetime import datetime

from chute import _core

FIRST_COMMIT = "firstdbf9474d461a19e9333c2fd19b46115348f"

__all__ = ["FIRST_COMMIT", "branches", "commit_details", "commits", "diff", "log_text"]


def _tree(core: _core.Dataset) -> dict:
    return json.loads(core.version_info_json())


def _time(t) -> str | None:
    # Deep Lake shows str(datetime.fromtimestamp(commit_time))[:-7] (the microseconds cut off)
    return None if t is None else str(datetime.fromtimestamp(t))[:-7]


def _lineage(tree: dict, node: str) -> list[str]:
    """node, its parent, ... up to the first commit."""
    out, seen = [], set()
    while node is not None and node in tree["commits"] and node not in seen:
        seen.add(node)
        out.append(node)
        node = tree["commits"][node]["parent"]
    return out


def branches(core: _core.Dataset) -> list[str]:
    return list(_tree(core)["branches"])


def commits(core: _core.Dataset) -> list[dict]:
    """The commits from the checked-out node back to the first, newest first (heads are not commits)."""
    tree = _tree(core)
    out = []
    for node in _lineage(tree, core.pending_commit_id):
        c = tree["commits"][node]
        if c["commit_time"] is None:
            continue
        out.append({"commit": node, "author": c["commit_user_name"], "time": _time(c["commit_time"]),
                    "message": c["commit_message"]})
    return out


def commit_details(core: _core.Dataset, commit_id: str) -> dict:
    tree = _tree(core)
    c = tree["commits"].get(commit_id)
    if c is None:
        raise _core.CheckoutError(f"commit '{commit_id}' is not in dataset '{core.path}'")
    return {"commit": commit_id, "author": c["commit_user_name"], "time": _time(c["commit_time"]),
            "message": c["commit_message"]}


def log_text(core: _core.Dataset) -> str:
    lines = ["---------------", "Deep Lake Version Log", "---------------", "", f"Current Branch: {core.branch}"]
    if core.has_head_changes:
        lines.append("** There are uncommitted changes on this branch.")
    tree = _tree(core)
    for c in commits(core):
        lines.append("")
        lines.append(f"Commit : {c['commit']} ({tree['commits'][c['commit']]['branch']}) ")
        lines.append(f"Author : {c['author']}")
        lines.append(f"Time   : {c['time']}")
        lines.append(f"Message: {c['message']}")
        n = tree["commits"][c["commit"]]
        if n.get("is_checkpoint"):
            lines.append(f"Total samples processed in transform: {n.get('total_samples_processed', 0)}")
    return "\n".join(lines)


def _resolve(tree: dict, address: str, path: str) -> str:
    if address in tree["branches"]:
        return tree["branches"][address]
    if address in tree["commits"]:
        return address
    raise _core.CheckoutError(f"address '{address}' is neither a branch nor a commit of dataset '{path}'")


def _entries(core: _core.Dataset, tree: dict, nodes: list[str]) -> tuple[list, list]:
    ds_entries, tensor_entries = [], []
    for node in nodes:
        c = tree["commits"][node]
        changes = json.loads(core.node_changes(node))
        d = changes["dataset"]
        ds_entries.append({"commit_id": node, "author": c["commit_user_name"], "message": c["commit_message"],
                           "date": _time(c["commit_time"]), "info_updated": d["info_updated"],
                           "renamed": dict(d["renamed"]), "deleted": list(d["deleted"])})
        entry: dict = {"commit_id": node}
        for name, t in changes["tensors"].items():
            entry[name] = {"created": t["created"], "cleared": t["cleared"], "info_updated": t["info_updated"],
                           "data_added": list(t["data_added"]), "data_updated": set(t["data_updated"]),
                           "data_deleted": set(t["data_deleted"]),
                           "data_transformed_in_place": t["data_transformed_in_place"]}
        tensor_entries.append(entry)
    return ds_entries, tensor_entries


def diff(core: _core.Dataset, id_1: str | None = None, id_2: str | None = None, as_dict: bool = False):
    """Deep Lake 3's `ds.diff`: without ids, what the checked-out node changed; with ids, the changes
    on each side since their last common commit, newest first."""
    if id_1 is None and id_2 is not None:
        raise ValueError("diff: id_2 without id_1; pass id_1 (or only id_1 to compare it with the checked-out node)")
    tree = _tree(core)
    if id_1 is None:
        ds_e, t_e = _entries(core, tree, [core.pending_commit_id])
        result = {"dataset": ds_e, "tensor": t_e}
        sides = None
    else:
        a = _resolve(tree, id_1, core.path) if id_2 is not None else core.pending_commit_id
        b = _resolve(tree, id_2 if id_2 is not None else id_1, core.path)
        line_a, line_b = _lineage(tree, a), _lineage(tree, b)
        lca = next((n for n in line_a if n in set(line_b)), None)
        side_a = line_a[:line_a.index(lca)] if lca else line_a
        side_b = line_b[:line_b.index(lca)] if lca else line_b
        ds_a, t_a = _entries(core, tree, side_a)
        ds_b, t_b = _entries(core, tree, side_b)
        result = {"dataset": (ds_a, ds_b), "tensor": (t_a, t_b)}
        sides = (a, b)
    if as_dict:
        return result
    print(_diff_text(result, sides))
    return None


def _diff_text(result: dict, sides) -> str:
    out = []

    def block(title: str, ds_entries: list, t_entries: list) -> None:
        out.append(title)
        if not ds_entries:
            out.append("  No changes.")
        for d, t in zip(ds_entries, t_entries):
            out.append(f"  commit {d['commit_id']}" + (f" ({d['message']})" if d["message"] else ""))
            if d["info_updated"]:
                out.append("    dataset info updated")
            for a, b in d["renamed"].items():
                out.append(f"    tensor '{a}' renamed to '{b}'")
            for name in d["deleted"]:
                out.append(f"    tensor '{name}' deleted")
            for name, c in t.items():
                if name == "commit_id":
                    continue
                parts = []
                if c["created"]:
                    parts.append("created")
                if c["cleared"]:
                    parts.append("cleared")
                if c["data_added"][1] > c["data_added"][0]:
                    parts.append(f"added rows {c['data_added'][0]}-{c['data_added'][1] - 1}")
                if c["data_updated"]:
                    parts.append(f"updated rows {sorted(c['data_updated'])}")
                if c["data_deleted"]:
                    parts.append(f"deleted rows {sorted(c['data_deleted'])}")
                if c["info_updated"]:
                    parts.append("info updated")
                if parts:
                    out.append(f"    {name}: " + ", ".join(parts))

    if sides is None:
        block("Changes in the checked-out commit:", result["dataset"], result["tensor"])
    else:
        block(f"Changes on {sides[0]} since the common commit:", result["dataset"][0], result["tensor"][0])
        block(f"Changes on {sides[1]} since the common commit:", result["dataset"][1], result["tensor"][1])
    return "\n".join(out)
