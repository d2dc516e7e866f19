"""Root conftest: `pytest suites` works from a checkout even when the package's pytest11 entry point
is not installed (the plugin registers itself through it when ingresscheck is pip-installed)."""

from importlib.metadata import entry_points

if not any(ep.name == "ingresscheck" for ep in entry_points(group="pytest11")):
    pytest_plugins = ["ingresscheck.pytest_plugin"]
