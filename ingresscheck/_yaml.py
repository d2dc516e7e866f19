"""YAML documents together with where each value is, so a schema error can name file and line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml


class Located:
    """One YAML document: its plain data and its node tree (for line numbers)."""

    def __init__(self, data: Any, node: yaml.Node | None) -> None:
        self.data = data
        self.node = node

    def line(self, path: Sequence[str | int]) -> int | None:
        """1-based line of the deepest node found along ``path`` (keys and list indexes)."""
        node = self.node
        if node is None:
            return None
        line: int = node.start_mark.line + 1
        for part in path:
            child = None
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                        child = value
                        line = key.start_mark.line + 1  # the key's line, for a value that is missing its type
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                child = node.value[part]
            if child is None:
                return line
            node = child
            line = node.start_mark.line + 1
        return line


def load_all(text: str) -> list[Located]:
    """Every document of ``text`` (yaml.safe_load_all semantics), each with its nodes.

    Raises ``yaml.YAMLError`` (a ``MarkedYAMLError`` with the line) for text that is not YAML.
    """
    loader = yaml.SafeLoader(text)
    out = []
    try:
        while loader.check_node():
            node = loader.get_node()
            out.append(Located(loader.construct_document(node), node))
    finally:
        loader.dispose()
    return out


def error_line(exc: yaml.YAMLError) -> int | None:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        return int(exc.problem_mark.line) + 1
    return None
