"""The layers point one way and no module imports itself back (`python tests/import_graph.py`).

schemas (the contracts) <- worker (the consumer) <- jobs (the producer side, the demo);
trainer needs only the contracts. The `scorer` command finds each package's subcommands
through entry points, so the lowest layer never imports the ones above it.
"""

from __future__ import annotations

from import_graph import cycles, module_graph, package_edges

ALLOWED = {
    "schemas": set(),
    "worker": {"schemas"},
    "trainer": {"schemas"},
    "jobs": {"schemas", "worker"},
}


def test_no_module_imports_itself_back() -> None:
    assert cycles(module_graph()) == []


def test_each_package_imports_only_the_layers_below_it() -> None:
    edges = package_edges(module_graph())
    for package, targets in edges.items():
        assert targets <= ALLOWED[package], f"{package} imports {targets - ALLOWED[package]}"


def test_the_graph_sees_lazy_imports_inside_functions() -> None:
    """The check would pass vacuously if function-level imports were missed."""
    graph = module_graph()
    assert "worker.service" in graph["worker.commands"]  # imported inside _work()
