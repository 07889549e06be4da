"""YAML reading that remembers line numbers, so every error can name file, line and field.

Bounded on hostile input: a file above ``MAX_FILE_BYTES`` is refused before it is parsed,
and a document whose aliases would expand past ``MAX_NODES`` nodes (a "billion laughs"
file) is refused after composing, before anything walks it. libyaml's parser is used where
PyYAML has it (it keeps the line marks), the pure-Python one otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import SpecError

__all__ = ["LineDict", "LineList", "read_yaml", "line_of", "TIMELOOP_TAGS", "MAX_FILE_BYTES", "MAX_NODES"]

# Far above any real model or machine file (the largest bundled one is a few KiB; a model
# at the layer limit written out layer by layer is about 10 MiB).
MAX_FILE_BYTES = 32 * 2**20
# Nodes of the document with every alias expanded: a real file has about as many nodes as
# lines, so this allows files far larger than MAX_FILE_BYTES without aliases.
MAX_NODES = 2_000_000


class LineDict(dict):
    """A mapping that knows its own line and each key's line (1-based)."""

    line: int | None = None
    key_lines: dict[str, int]
    duplicates: list[tuple[Any, int]]  # (key, line) of keys seen again; read_yaml rejects them
    tag: str | None = None  # "Container" for `!Container {...}` (see TIMELOOP_TAGS)


class LineList(list):
    """A sequence that knows its own line and each item's line (1-based)."""

    line: int | None = None
    item_lines: list[int]


_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc, valid-type]
    pass


def _child(loader: _Loader, node: yaml.Node, field: str | None) -> Any:
    """Construct one child node. A value that its tag cannot take (``!!float 1e400 MHz``)
    becomes a SpecError at the child's line; an error from deeper down gets the child's
    place (``field``) put in front of its field path."""
    try:
        return loader.construct_object(node, deep=True)
    except SpecError as exc:
        if field is not None:
            inner = exc.field or ""
            exc.field = field + ("" if not inner or inner.startswith("[") else ".") + inner
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        raise SpecError(f"invalid {node.tag.rsplit(':', 1)[-1]} value: {exc}",
                        line=node.start_mark.line + 1, field=field) from None


_MERGE = "tag:yaml.org,2002:merge"


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    """A mapping with its lines. A key given twice is reported (by ``read_yaml``), except
    that a mapping's own key overrides one it merged in with ``<<: *anchor``, as YAML says."""
    own = {id(k) for k, _ in node.value if k.tag != _MERGE}
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    out.duplicates = []
    mine: set[Any] = set()  # keys the mapping itself gives
    for key_node, value_node in node.value:
        key = _child(loader, key_node, None)
        if not isinstance(key, (str, int, float, bool)) or key is None:
            raise SpecError(f"mapping keys must be plain names, got {key!r}",
                            line=key_node.start_mark.line + 1)
        if key in out:
            if id(key_node) in own and key not in mine:  # overrides a merged-in key
                pass
            elif id(key_node) not in own:  # a later merge does not override
                continue
            else:  # reported by read_yaml, which knows the field path of this mapping
                out.duplicates.append((key, key_node.start_mark.line + 1))
                continue
        if id(key_node) in own:
            mine.add(key)
        out[key] = _child(loader, value_node, str(key))
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList(_child(loader, child, f"[{i}]") for i, child in enumerate(node.value))
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)

# The node tags of Timeloop v0.4 architecture files. A tagged mapping becomes a LineDict
# whose ``tag`` names it; readers that do not expect tags see an ordinary mapping.
TIMELOOP_TAGS = ("Container", "Component", "Parallel", "Hierarchical", "Pipelined", "Nothing")


def _construct_tagged(loader: _Loader, node: yaml.Node) -> LineDict:
    if not isinstance(node, yaml.MappingNode):
        raise SpecError(f"{node.tag} must tag a mapping", line=node.start_mark.line + 1)
    out = _construct_mapping(loader, node)
    out.tag = node.tag[1:]
    return out


for _tag in TIMELOOP_TAGS:
    _Loader.add_constructor("!" + _tag, _construct_tagged)


def _expanded_nodes(root: yaml.Node) -> tuple[int, int | None]:
    """Nodes of the document with every alias expanded, and the line of the node whose
    expansion first crosses ``MAX_NODES`` (None if none does). Linear in the composed nodes:
    an alias is the same node object, so each node's expanded size is computed once.

    Raises:
        SpecError: an alias inside the node it refers to (``&a [*a]``), which would expand
            forever.
    """
    size: dict[int, int] = {}
    open_: set[int] = set()  # nodes whose children are still being counted
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in size:
            continue
        kids = ([n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode)
                else list(node.value) if isinstance(node, yaml.SequenceNode) else [])
        if not children_done:
            if id(node) in open_:
                continue
            open_.add(id(node))
            stack.append((node, True))
            for k in kids:
                if id(k) in open_:
                    raise SpecError("an alias refers to a node that contains it (a recursive structure)",
                                    line=k.start_mark.line + 1)
                if id(k) not in size:
                    stack.append((k, False))
            continue
        open_.discard(id(node))
        size[id(node)] = 1 + sum(size.get(id(k), 1) for k in kids)
        if size[id(node)] > MAX_NODES:
            return size[id(node)], node.start_mark.line + 1
    return size[id(root)], None


def line_of(container: Any, key: Any) -> int | None:
    """Line of ``container[key]`` if the container came from :func:`read_yaml`."""
    if isinstance(container, LineDict):
        return container.key_lines.get(key, container.line)
    if isinstance(container, LineList) and isinstance(key, int) and 0 <= key < len(container.item_lines):
        return container.item_lines[key]
    return getattr(container, "line", None)


def _first_duplicate(doc: Any) -> tuple[int, str, Any] | None:
    """(line, field path, key) of the earliest repeated mapping key in ``doc``, if any."""
    found: list[tuple[int, str, Any]] = []
    seen: set[int] = set()
    stack: list[tuple[Any, str]] = [(doc, "")]
    while stack:
        node, path = stack.pop()
        if not isinstance(node, (LineDict, LineList)) or id(node) in seen:
            continue
        seen.add(id(node))  # aliases share objects: visit each once
        if isinstance(node, LineDict):
            for key, line in getattr(node, "duplicates", ()):
                found.append((line, f"{path}.{key}" if path else str(key), key))
            stack.extend((value, f"{path}.{key}" if path else str(key)) for key, value in node.items())
        else:
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(node))
    return min(found, key=lambda f: f[0]) if found else None


def read_yaml(path: str | Path, text: str | None = None) -> Any:
    """Parse a YAML file (or ``text`` attributed to ``path``) with line information.

    Raises:
        SpecError: the file cannot be read or is not valid YAML (with the line of the fault).
    """
    path = str(path)
    if text is None:
        try:
            if Path(path).stat().st_size > MAX_FILE_BYTES:
                raise SpecError(f"file is larger than {MAX_FILE_BYTES // 2**20} MiB, the limit for "
                                "model and hardware files", file=path)
            raw = Path(path).read_bytes()
        except FileNotFoundError:
            raise SpecError("file not found", file=path) from None
        except OSError as exc:
            raise SpecError(f"cannot read file: {exc.strerror or exc}", file=path) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SpecError(f"byte 0x{raw[exc.start]:02x} is not UTF-8 text (save the file as UTF-8)",
                            file=path, line=raw.count(b"\n", 0, exc.start) + 1) from None
    elif len(text) > MAX_FILE_BYTES:
        raise SpecError(f"text is longer than {MAX_FILE_BYTES // 2**20} MiB, the limit for model "
                        "and hardware files", file=path)
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                return None
            nodes, line = _expanded_nodes(root)
            if line is not None:
                raise SpecError(f"aliases expand this document past {MAX_NODES:,} nodes (a YAML bomb?)",
                                file=path, line=line)
            doc = loader.construct_document(root)
        finally:
            loader.dispose()
    except SpecError as exc:
        raise exc.located(file=path) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError(f"YAML syntax error: {problem}", file=path, line=line) from None
    except yaml.reader.ReaderError as exc:  # a control character such as NUL
        line = text.count("\n", 0, exc.position) + 1 if isinstance(exc.position, int) else None
        what = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        raise SpecError(f"control character {what} is not allowed in YAML", file=path, line=line) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"YAML error: {exc}", file=path) from None
    except (ValueError, TypeError, OverflowError) as exc:  # a top-level scalar like `!!int x`
        raise SpecError(f"invalid value: {exc}", file=path, line=1) from None
    except RecursionError:
        raise SpecError("YAML nesting is too deep", file=path) from None
    duplicate = _first_duplicate(doc)
    if duplicate:
        line, field, key = duplicate
        raise SpecError(f"key {key!r} appears twice", file=path, line=line, field=field)
    return doc
