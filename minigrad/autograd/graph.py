"""Looking at a graph: a text dump, a Graphviz DOT export and the memory saved for backward.

>>> print(mg.autograd.graph.dump(loss))
Sum  saved: 0 arrays
└─ Mul  saved: 2 arrays, 128 B
   ├─ leaf float32 (4, 4) requires_grad
   └─ leaf float32 (4, 4) requires_grad
"""

from __future__ import annotations

from .engine import topological_order


def _leaf_label(t) -> str:
    return f"leaf {t.dtype.name} {tuple(t.shape)}" + (" requires_grad" if t.requires_grad else "")


def _node_label(node) -> str:
    if node._released:
        return f"{node.name()}  (freed)"
    arrays = node.saved_arrays()
    size = sum(a.nbytes for a in arrays)
    return f"{node.name()}  saved: {len(arrays)} arrays" + (f", {_bytes(size)}" if arrays else "")


def _bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def dump(tensor) -> str:
    """A readable tree of the ops behind ``tensor`` (shared nodes are shown once, then referenced)."""
    if tensor.grad_fn is None:
        return _leaf_label(tensor)
    lines = []
    seen: dict = {}
    stack = [(tensor.grad_fn, "", "", True)]
    while stack:
        item, prefix, branch, is_root = stack.pop()
        if hasattr(item, "next_edges"):
            if item in seen:
                lines.append(f"{prefix}{branch}{item.name()} (#{seen[item]}, see above)")
                continue
            seen[item] = len(seen) + 1
            lines.append(f"{prefix}{branch}{_node_label(item)}  #{seen[item]}")
            children = [e for e in (item.next_edges or ()) if e is not None]
            child_prefix = prefix + ("" if is_root else ("   " if branch.startswith("└") else "│  "))
            for i, edge in reversed(list(enumerate(children))):
                last = i == len(children) - 1
                child = edge[0] if type(edge) is tuple else edge
                stack.append((child, child_prefix, "└─ " if last else "├─ ", False))
        else:
            lines.append(f"{prefix}{branch}{_leaf_label(item)}")
    return "\n".join(lines)


def to_dot(tensor, name: str = "graph") -> str:
    """The graph as Graphviz DOT text (render with ``dot -Tpng``)."""
    out = [f"digraph {name} {{", "  rankdir=BT;", '  node [fontname="Helvetica", fontsize=10];']
    if tensor.grad_fn is None:
        out.append(f'  t [shape=box, label="{_leaf_label(tensor)}"];')
        out.append("}")
        return "\n".join(out)
    order = topological_order([tensor.grad_fn])
    ids = {node: f"n{i}" for i, node in enumerate(order)}
    leaves = {}
    out.append(f'  out [shape=box, style=filled, fillcolor=lightblue, label="output {tuple(tensor.shape)}"];')
    out.append(f"  {ids[tensor.grad_fn]} -> out;")
    for node in order:
        out.append(f'  {ids[node]} [shape=ellipse, label="{_node_label(node)}"];')
        for edge in node.next_edges or ():
            if edge is None:
                continue
            if type(edge) is tuple:
                out.append(f"  {ids[edge[0]]} -> {ids[node]};")
            else:
                key = id(edge)
                if key not in leaves:
                    leaves[key] = f"l{len(leaves)}"
                    out.append(
                        f'  {leaves[key]} [shape=box, style=filled, fillcolor=lightgrey, label="{_leaf_label(edge)}"];'
                    )
                out.append(f"  {leaves[key]} -> {ids[node]};")
    out.append("}")
    return "\n".join(out)


def saved_tensors_info(tensor) -> tuple[int, int]:
    """(number of arrays, total bytes) kept alive for backward by the graph behind ``tensor``."""
    if tensor.grad_fn is None:
        return 0, 0
    seen = set()
    count = size = 0
    for node in topological_order([tensor.grad_fn]):
        for array in node.saved_arrays():
            if id(array) not in seen:
                seen.add(id(array))
                count += 1
                size += array.nbytes
    return count, size
