"""The apps depend on each other one way: ``search`` → ``corpora`` → ``crier_site``'s shared
helpers, never back, and ``accounts`` stands beside them on the shared helpers alone
(docs/architecture.md). Read with the standard library's ``ast``, so an
import hidden inside a function counts as much as one at the top of a module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# crier_site modules (and the package crier_site.api) that any app may import; they must import
# no app themselves. The rest of crier_site (urls, site pages, health checks) wires the apps
# together and may import them.
SHARED_SITE_MODULES = (
    "crier_site.api",
    "crier_site.env",
    "crier_site.errors",
    "crier_site.faults",
    "crier_site.http",
    "crier_site.quiet",
)
# corpora's HTTP layer: other apps use its models, selectors, services and signals instead.
CORPORA_HTTP_MODULES = ("corpora.api", "corpora.views", "corpora.serializers", "corpora.forms")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module ``source`` (the code of ``module``) imports, wherever the import is."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None))
            in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return found


def imports_of(package: str) -> dict[str, set[str]]:
    graph = {}
    for path in sorted((ROOT / package.replace(".", "/")).rglob("*.py")):
        name = module_name(path)
        graph[name] = imported_modules(
            path.read_text(), name, is_package=path.name == "__init__.py"
        )
    return graph


def offenders(graph: dict[str, set[str]], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        for target in targets
        if any(target == prefix or target.startswith(prefix + ".") for prefix in forbidden)
    )


def test_corpora_never_imports_search():
    assert offenders(imports_of("corpora"), ("search",)) == []


@pytest.mark.parametrize("app", ["corpora", "search"])
def test_apps_use_only_the_shared_site_helpers(app):
    graph = imports_of(app)
    site_modules = {
        ".".join(target.split(".")[:2])
        for targets in graph.values()
        for target in targets
        if target.startswith("crier_site.")
    }
    assert site_modules - set(SHARED_SITE_MODULES) == set()
    assert offenders(graph, ("crier_site.views", "crier_site.urls", "crier_site.health")) == []


def test_shared_site_helpers_import_no_app():
    graph = {
        module: targets
        for module, targets in imports_of("crier_site").items()
        if ".".join(module.split(".")[:2]) in SHARED_SITE_MODULES
    }
    assert {".".join(module.split(".")[:2]) for module in graph} == set(SHARED_SITE_MODULES)
    assert offenders(graph, ("corpora", "search")) == []


@pytest.mark.parametrize("app", ["corpora", "search"])
def test_the_data_apps_never_import_accounts(app):
    """Credentials are read by the authentication class named in the settings."""
    assert offenders(imports_of(app), ("accounts",)) == []


def test_accounts_imports_no_other_app_and_no_site_wiring():
    graph = imports_of("accounts")
    assert offenders(graph, ("corpora", "search")) == []
    wiring = ("crier_site.views", "crier_site.urls", "crier_site.api_urls", "crier_site.health")
    assert offenders(graph, wiring) == []


# search/'s top level holds Django's conventional modules; everything else lives in the
# sub-package of its job, so the folder reads as the upload → vector → hit path.
SEARCH_TOP_LEVEL_MODULES = {
    "__init__",
    "admin",
    "api",
    "apps",
    "forms",
    "models",
    "selectors",
    "serializers",
    "services",
    "signals",
    "tasks",
    "urls",
    "views",
}
SEARCH_PACKAGES = {
    "encoders",
    "encoding",
    "indices",
    "queries",
    "copies",
    "text",
    "evaluation",
    "management",
    "migrations",
    "templatetags",
}


def test_search_is_grouped_by_job():
    search = ROOT / "search"
    modules = {path.stem for path in search.glob("*.py")}
    packages = {path.name for path in search.iterdir() if (path / "__init__.py").exists()}
    assert modules - SEARCH_TOP_LEVEL_MODULES == set(), "put a new module in its job's package"
    assert packages - SEARCH_PACKAGES == set(), "add a new package to docs/architecture.md"


def test_search_uses_corpora_through_its_data_layer_not_its_http_layer():
    assert offenders(imports_of("search"), CORPORA_HTTP_MODULES) == []


@pytest.mark.parametrize(
    "source",
    [
        "import search.indices.build",
        "from search import encoders",
        "def f():\n    from search.encoders import get_encoder\n",
        "import importlib\nimportlib.import_module('search.tasks')",
        "import search",
    ],
)
def test_the_check_finds_an_import_of_search_wherever_it_hides(source):
    graph = {"corpora.sub.module": imported_modules(source, "corpora.sub.module")}
    assert offenders(graph, ("search",))


def test_the_check_does_not_mistake_a_similar_name_for_search():
    source = "import searchlight\nfrom corpora import search_helpers\n'search.tasks'"
    graph = {"corpora.module": imported_modules(source, "corpora.module")}
    assert offenders(graph, ("search",)) == []


def real_edges() -> dict[str, set[str]]:
    """app → the modules of other apps it imports (``app.module``)."""
    apps = ("accounts", "corpora", "search", "crier_site")
    edges: dict[str, set[str]] = {app: set() for app in apps}
    for app in apps:
        for targets in imports_of(app).values():
            for target in targets:
                parts = target.split(".")
                if parts[0] in apps and parts[0] != app and len(parts) > 1:
                    edges[app].add(".".join(parts[:2]))
    return edges


def test_architecture_doc_draws_the_real_import_graph():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    block = doc.split("```text import-graph\n", 1)[1].split("```", 1)[0]
    drawn = {
        app.strip(): set(targets.split())
        for app, _, targets in (line.partition("->") for line in block.strip().splitlines())
    }
    assert drawn == real_edges(), "update the import graph in docs/architecture.md"
