"""YAML and JSON manifests -> ClusterView and policies, for the offline check.

Accepts files and folders, multi-document YAML, `kubectl get -o yaml` lists, and standard input
(`-` or `/dev/stdin`, named `<stdin>`). It records where each object starts (file and 1-based
line) for the reports. Anything it cannot read is an InputError naming the file and the problem,
never a traceback; a policy whose spec fails validation is not: it is left out and listed in
Inputs.errors, so that the other policies are still evaluated.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import re
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, TextIO

import yaml
from pydantic import BaseModel, ValidationError

from .api import BackupPolicySpec, TenantPolicySpec, ZoneSpreadSpec
from .view import PROJECTIONS, UNREADABLE, VELERO_KINDS, ClusterView, project

MANIFEST_SUFFIXES = {".yaml", ".yml", ".json"}
POLICY_SPECS: dict[str, type[BaseModel]] = {
    "ZoneSpread": ZoneSpreadSpec,
    "TenantPolicy": TenantPolicySpec,
    "BackupPolicy": BackupPolicySpec,
}
CLUSTER_SCOPED = {"Namespace", "Node", "TenantPolicy", "PersistentVolume", "ClusterRoleBinding", "ClusterRole"}
STDIN_PATHS = ("-", "/dev/stdin")
STDIN_NAME = "<stdin>"
DEFAULT_NAMESPACE = "default"


class InputError(Exception):
    """Unusable input: the message names the file and the problem."""


class Source(NamedTuple):
    """Where an object starts: the file as given (or `<stdin>`) and the 1-based line of its document or list item."""

    file: str
    line: int


@dataclass(frozen=True)
class PolicyError:
    """A policy the check cannot use: its spec fails validation. The others are still evaluated."""

    file: str
    line: int
    kind: str
    namespace: str
    name: str
    problem: str

    @property
    def policy(self) -> str:
        """The policy's label, as findings name it: "Kind/namespace/name" or "Kind/name"."""
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"

    def __str__(self) -> str:
        where = f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"
        return f"{self.file}:{self.line}: {where}: {self.problem}"


@dataclass(frozen=True)
class PolicyDocument:
    kind: str
    namespace: str
    name: str
    spec: Any
    source: str
    generation: int = 0


@dataclass
class Inputs:
    view: ClusterView = field(default_factory=ClusterView)
    policies: list[PolicyDocument] = field(default_factory=list)
    documents: int = 0
    # (kind, namespace, name) -> where the object starts; namespace "" for cluster-scoped kinds.
    sources: dict[tuple[str, str, str], Source] = field(default_factory=dict)
    errors: list[PolicyError] = field(default_factory=list)

    def policies_of(self, kind: str) -> list[PolicyDocument]:
        return [p for p in self.policies if p.kind == kind]


def format_validation_error(error: ValidationError) -> str:
    parts = []
    for e in error.errors():
        location = ".".join(str(x) for x in e["loc"] if not str(x).startswith("function-"))
        message = e["msg"].removeprefix("Value error, ")
        parts.append(f"spec.{location}: {message}" if location else f"spec: {message}")
    return "; ".join(parts)


def parse_policy_spec(kind: str, spec: Any) -> BaseModel:
    """Validate a policy spec with the models behind the CRD schema; ValueError says what is wrong."""
    if not isinstance(spec, dict):
        raise ValueError("spec: must be an object")
    try:
        return POLICY_SPECS[kind].model_validate(spec)
    except ValidationError as exc:
        raise ValueError(format_validation_error(exc)) from None


def _manifest_files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and child.suffix in MANIFEST_SUFFIXES and not any(
                    part.startswith(".") for part in child.relative_to(path).parts):
                yield child
    elif path.exists():
        # A file, or a stream named by path: a FIFO, a shell's `<(kubectl kustomize deploy/)`.
        yield path
    else:
        raise InputError(f"{path}: no such file or directory")


def _read_stdin(stdin: TextIO | BinaryIO | None) -> str:
    stream = sys.stdin if stdin is None else stdin
    try:
        data = getattr(stream, "buffer", stream).read()
        return data.decode("utf-8") if isinstance(data, bytes) else data
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{STDIN_NAME}: cannot read: {exc}") from None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None


def _is_list(doc: Any) -> bool:
    kind = doc.get("kind") if isinstance(doc, dict) else None
    return isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list)


class _Lines:
    """1-based line numbers of increasing offsets into a text, counting each newline once."""

    def __init__(self, text: str) -> None:
        self.text, self.offset, self.line = text, 0, 1

    def at(self, offset: int) -> int:
        self.line += self.text.count("\n", self.offset, offset)
        self.offset = offset
        return self.line


# One parsed document: its value, the line where it starts, and the lines where the items of a
# `List` start (empty when it is none, or when they are unknown).
_Parsed = tuple[Any, int, list[int]]


class _KubeYamlLoader(yaml.SafeLoader):
    """SafeLoader less the implicit timestamps: `creationTimestamp: 2026-11-20T10:00:00Z` and
    `name: 2024-01-01` stay strings, as kubectl reads them (YAML to JSON, where a time is a string)."""


_KubeYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


_CKubeYamlLoader: type | None = None
if getattr(yaml, "__with_libyaml__", False):
    class _CKubeYamlLoader(yaml.CSafeLoader):  # type: ignore[no-redef]
        """_KubeYamlLoader with libyaml's scanner, parser and composer (C), the same constructor
        and resolvers (Python): the same values and marks, several times faster."""

    _CKubeYamlLoader.yaml_implicit_resolvers = _KubeYamlLoader.yaml_implicit_resolvers

    if None not in _KubeYamlLoader.yaml_implicit_resolvers and not _KubeYamlLoader.yaml_path_resolvers:
        _RESOLVER_FIRSTS = frozenset(_KubeYamlLoader.yaml_implicit_resolvers)

        _RESOLVED: dict[tuple[str, Any], str] = {}

        def _resolve(self: Any, kind: type, value: Any, implicit: Any,
                     _resolve: Callable[..., str] = yaml.CSafeLoader.resolve) -> str:
            """Resolver.resolve, less its work for the many plain scalars that begin with a
            character no implicit resolver starts with (strings), and remembered for the others
            (a plain scalar's tag depends on its text alone)."""
            if kind is yaml.ScalarNode and implicit[0] and value:
                if value[0] not in _RESOLVER_FIRSTS:
                    return "tag:yaml.org,2002:str"
                key = (value, implicit)
                tag = _RESOLVED.get(key)
                if tag is None:
                    if len(_RESOLVED) > 100_000:
                        _RESOLVED.clear()
                    tag = _RESOLVED[key] = _resolve(self, kind, value, implicit)
                return tag
            return _resolve(self, kind, value, implicit)

        def _no_path_resolver(self: Any, *_: Any) -> None:
            """Resolver.descend_resolver and ascend_resolver with no path resolver: nothing to do."""

        _CKubeYamlLoader.resolve = _resolve  # type: ignore[method-assign]
        _CKubeYamlLoader.descend_resolver = _no_path_resolver  # type: ignore[method-assign]
        _CKubeYamlLoader.ascend_resolver = _no_path_resolver  # type: ignore[method-assign]

# Nesting the pure-Python composer surely reaches (it recurses twice a level, within Python's
# recursion limit of 1000 frames); deeper input is left to it, for its own result or error.
_SAFE_DEPTH = 150


def _may_nest_deeper(text: str, limit: int) -> bool:
    """False when no document of `text` can nest deeper than `limit`: block levels need at most
    two a column of indentation, flow levels an opening bracket each."""
    brackets = text.count("[") + text.count("{")
    if brackets > limit:
        return True
    longest = max(map(len, text.split("\n")), default=0)
    return 2 * (longest + 1) + brackets > limit


def _deeper_than(node: yaml.Node, limit: int) -> bool:
    """Whether the tree of `node` nests deeper than `limit`; True too for a node met twice (an
    alias), which this walk does not measure."""
    stack = [(node, 1)]
    seen: set[int] = set()
    while stack:
        node, depth = stack.pop()
        if depth > limit or id(node) in seen:
            return True
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append((key, depth + 1))
                stack.append((value, depth + 1))
    return False


def _yaml_documents(text: str) -> list[_Parsed]:
    """yaml.safe_load_all(text), with the line where each document's node starts: the composer's
    marks, from the same single parse (this is what safe_load_all does, node by node).

    libyaml parses when it can; whatever it refuses (with its own messages), and any nesting deep
    enough for the pure-Python parser to give up on, is parsed again by the pure-Python parser,
    whose values, lines and errors are the reference."""
    if _CKubeYamlLoader is not None:
        check_depth = _may_nest_deeper(text, _SAFE_DEPTH)
        # Anything libyaml refuses, or too deep: the reference parser decides, and says why.
        with contextlib.suppress(Exception):
            return _load_yaml_documents(_CKubeYamlLoader, text, _SAFE_DEPTH if check_depth else 0)
    return _load_yaml_documents(_KubeYamlLoader, text, 0)


class _TooDeep(Exception):
    pass


class _Unusual(Exception):
    """A node _construct leaves to the loader's own constructor."""


_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_PLAIN_SCALAR_TAGS = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
                      "tag:yaml.org,2002:null"}


def _construct(loader: Any, node: yaml.Node, seen: set[int]) -> Any:
    """loader.construct_document(node) for the nodes of plain manifests (maps, lists, strings,
    numbers, booleans, nulls), in one recursive pass; _Unusual for anything else (an alias, a merge
    key, a key that is a collection, another tag), which the caller leaves to the loader."""
    tag = node.tag
    cls = node.__class__
    if cls is yaml.ScalarNode:
        if tag == _STR_TAG:
            return node.value
        if tag in _PLAIN_SCALAR_TAGS:
            return loader.yaml_constructors[tag](loader, node)
        raise _Unusual
    if id(node) in seen:
        raise _Unusual  # an alias: the loader constructs it once, shared
    seen.add(id(node))
    if cls is yaml.MappingNode and tag == _MAP_TAG:
        mapping = {}
        for key_node, value_node in node.value:
            if key_node.__class__ is not yaml.ScalarNode or key_node.tag not in _KEY_TAGS:
                raise _Unusual  # a merge key `<<`, a `=` key, a collection as a key
            mapping[_construct(loader, key_node, seen)] = _construct(loader, value_node, seen)
        return mapping
    if cls is yaml.SequenceNode and tag == _SEQ_TAG:
        return [_construct(loader, child, seen) for child in node.value]
    raise _Unusual


_KEY_TAGS = {_STR_TAG} | _PLAIN_SCALAR_TAGS


def _load_yaml_documents(loader_class: type, text: str, depth_limit: int) -> list[_Parsed]:
    loader = loader_class(text)
    parsed: list[_Parsed] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if depth_limit and _deeper_than(node, depth_limit):
                raise _TooDeep
            if loader_class is _KubeYamlLoader:
                doc = loader.construct_document(node)
            else:
                try:
                    doc = _construct(loader, node, set())
                except _Unusual:
                    doc = loader.construct_document(node)
            item_lines: list[int] = []
            if _is_list(doc) and isinstance(node, yaml.MappingNode):
                items = next((v for k, v in node.value if getattr(k, "value", None) == "items"
                              and isinstance(v, yaml.SequenceNode)), None)
                if items is not None:
                    item_lines = [n.start_mark.line + 1 for n in items.value]
            parsed.append((doc, node.start_mark.line + 1, item_lines))
    finally:
        loader.dispose()
    return parsed


_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_SURROGATE_ESCAPE = re.compile(r"\\(u|U0000)[dD][89a-fA-F]")


def _json_document(text: str) -> _Parsed:
    """json.loads(text), with the line where the value starts and, for an object with an `items`
    array, the line where each item starts. The standard decoder reads every value once: a walk
    over the top-level object only splits the text at its keys and at the items. Whatever the walk
    does not expect (invalid JSON included) goes to json.loads, for its result or its error."""
    lines = _Lines(text)
    start = _JSON_SPACE.match(text, 0).end()
    try:
        doc, item_offsets = _walk_json_object(text, start)
    except ValueError:
        return json.loads(text), lines.at(start) if start < len(text) else 1, []
    return doc, lines.at(start), [lines.at(offset) for offset in item_offsets]


def _walk_json_object(text: str, start: int) -> tuple[dict, list[int]]:
    decoder = json.JSONDecoder()

    def space(i: int) -> int:
        return _JSON_SPACE.match(text, i).end()

    if not text.startswith("{", start):
        raise ValueError("not an object")
    doc: dict[str, Any] = {}
    item_offsets: list[int] = []
    i = space(start + 1)
    closed = text.startswith("}", i)
    while not closed:
        if not text.startswith('"', i):
            raise ValueError("a key")
        key, i = decoder.raw_decode(text, i)
        i = space(i)
        if not text.startswith(":", i):
            raise ValueError("a colon")
        i = space(i + 1)
        if key == "items" and text.startswith("[", i):
            value, item_offsets = [], []
            i = space(i + 1)
            ended = text.startswith("]", i)
            while not ended:
                item_offsets.append(i)
                item, i = decoder.raw_decode(text, i)
                value.append(item)
                i = space(i)
                if text.startswith(",", i):
                    i = space(i + 1)
                elif text.startswith("]", i):
                    ended = True
                else:
                    raise ValueError("a comma or a bracket")
            i += 1
        else:
            value, i = decoder.raw_decode(text, i)
        doc[key] = value
        i = space(i)
        if text.startswith(",", i):
            i = space(i + 1)
        elif text.startswith("}", i):
            closed = True
        else:
            raise ValueError("a comma or a brace")
    if space(i + 1) != len(text):
        raise ValueError("trailing text")
    return doc, item_offsets


def _parse(name: str, text: str, language: str) -> list[_Parsed]:
    """The documents of one input; `language` is "JSON", "YAML", or "sniff" for a stream with no
    suffix to go by (JSON when it reads as JSON, YAML otherwise: JSON is YAML too, mostly)."""
    parsed: list[_Parsed] | None = None
    if language == "sniff":
        if text.lstrip().startswith("{"):
            with contextlib.suppress(json.JSONDecodeError, RecursionError):
                parsed = [_json_document(text)]
        language = "JSON" if parsed is not None else "YAML"
    try:
        if parsed is None:
            parsed = [_json_document(text)] if language == "JSON" else _yaml_documents(text)
        if _SURROGATE_ESCAPE.search(text):
            # "\ud800" in JSON or a double-quoted YAML scalar: half a UTF-16 pair, no character.
            # Nothing could print it (UTF-8 has no encoding for it): refuse it here, with the file.
            json.dumps([doc for doc, _, _ in parsed], ensure_ascii=False, default=str).encode()
        return parsed
    except UnicodeEncodeError as exc:
        raise InputError(f"{name}: not valid {language}: {exc.object[exc.start:exc.end]!a} "
                         "is half a UTF-16 surrogate pair, no character") from None
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        problem = str(exc).replace("\n", " ")
        raise InputError(f"{name}: not valid {language}: {problem}") from None
    except RecursionError:
        # Both parsers recurse once per level: nesting deeper than Python's stack is no manifest.
        raise InputError(f"{name}: not valid {language}: nested too deeply") from None


def _documents(name: str, parsed: list[_Parsed]) -> Iterator[tuple[dict, int]]:
    """Each object of one input with the line where it starts; a list's items one by one."""
    for number, (doc, line, item_lines) in enumerate(parsed, start=1):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise InputError(f"{name}: document {number} is a {type(doc).__name__}, not a Kubernetes object")
        if _is_list(doc):
            # kubectl's `List` names each item's kind; an API list response (`PodList`) names none
            # on its items, only its own: theirs is the list's kind less "List".
            item_kind = doc["kind"].removesuffix("List")
            items = doc["items"]
            lines = item_lines if len(item_lines) == len(items) else [line] * len(items)
            for item, item_line in zip(items, lines, strict=True):
                if not isinstance(item, dict):
                    raise InputError(f"{name}: document {number}: a list item is not an object")
                if item_kind and not item.get("kind"):
                    item = {"kind": item_kind, "apiVersion": doc.get("apiVersion", ""), **item}
                yield item, item_line
        else:
            yield doc, line


def _inputs(paths: list[str | Path], stdin: TextIO | BinaryIO | None) -> Iterator[tuple[str, list[_Parsed]]]:
    stdin_read = False
    for raw in paths:
        if str(raw) in STDIN_PATHS:
            if not stdin_read:  # named twice, it is read once
                stdin_read = True
                yield STDIN_NAME, _parse(STDIN_NAME, _read_stdin(stdin), "sniff")
            continue
        yield from _parse_files(list(_manifest_files(Path(raw))))


def _parse_file(file: Path) -> tuple[str, list[_Parsed]]:
    if file.suffix == ".json":
        language = "JSON"
    elif file.suffix in MANIFEST_SUFFIXES or file.is_file():
        language = "YAML"
    else:
        language = "sniff"
    return str(file), _parse(str(file), _read(file), language)


# Below this much input, a second process costs more than it saves.
PARALLEL_MIN_BYTES = 1 << 20


def _parse_files(files: list[Path]) -> Iterator[tuple[str, list[_Parsed]]]:
    """Each file parsed, in order. For a large folder, a forked helper parses the files of its
    second half (by size) meanwhile, on the second core: the same results in the same order, and
    the same first error (a file after an error is never looked at). Without a helper (one core,
    no fork, a helper that failed), this process parses every file itself."""
    helper = _start_helper(files)
    if helper is None:
        for file in files:
            yield _parse_file(file)
        return
    pid, fd, split = helper
    try:
        for file in files[:split]:
            yield _parse_file(file)
        results = _helper_results(fd)
        for i, file in enumerate(files[split:]):
            if results is None or i >= len(results):
                yield _parse_file(file)
                continue
            ok, value = results[i]
            if not ok:
                raise value
            yield value
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def _start_helper(files: list[Path]) -> tuple[int, int, int] | None:
    """(pid, read end of its pipe, index of its first file), or None when not worth it."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if not hasattr(os, "fork") or len(files) < 2 or cores < 2:
        return None
    try:
        if not all(file.is_file() for file in files):  # a FIFO is read once, by this process
            return None
        sizes = [file.stat().st_size for file in files]
    except OSError:
        return None
    total = sum(sizes)
    if total < PARALLEL_MIN_BYTES:
        return None
    split, seen = 0, 0
    while split < len(files) and seen < total / 2:
        seen += sizes[split]
        split += 1
    if split >= len(files):
        return None
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:  # the helper: parse, send, and leave without any of the parent's exit work
        status = 1
        try:
            os.close(read_end)
            results: list[tuple[bool, Any]] = []
            for file in files[split:]:
                try:
                    results.append((True, _parse_file(file)))
                except Exception as exc:  # the parent raises it, in its turn
                    results.append((False, exc))
                    break
            data = pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    return pid, read_end, split


def _helper_results(fd: int) -> list[tuple[bool, Any]] | None:
    try:
        with os.fdopen(os.dup(fd), "rb") as pipe:
            data = pipe.read()
        return pickle.loads(data) if data else None
    except Exception:  # a helper that failed: the files are parsed here instead
        return None


def load(paths: list[str | Path], namespace: str = DEFAULT_NAMESPACE,
         stdin: TextIO | BinaryIO | None = None) -> Inputs:
    """The objects of `paths` (files, folders, `-` or `/dev/stdin` for `stdin`, sys.stdin by default);
    namespaced objects that name no namespace land in `namespace`, as `kubectl apply -n` puts them."""
    inputs = Inputs()
    view = inputs.view
    for name, parsed in _inputs(paths, stdin):
        for doc, line in _documents(name, parsed):
            inputs.documents += 1
            _add(inputs, view, doc, Source(name, line), namespace)
    return inputs


# The types of the fields the projections and the rules read, per kind: what the API server's typed
# decoding guarantees to the operator, and a manifest read offline must show too (a list where an
# object belongs, a number where a label value belongs). "str", "int" (any scalar: the projection
# converts it), "intstr" (an int or a string), "bool"; {field: shape} an object (other fields are
# not read); [shape] a list; ("map", shape) an object of string keys. null is absent everywhere.
_Shape = Any
_SELECTOR: _Shape = {"matchLabels": ("map", "str"),
                     "matchExpressions": [{"key": "str", "operator": "str", "values": ["str"]}]}
_NODE_TERM: _Shape = {"matchExpressions": [{"key": "str", "operator": "str", "values": ["str"]}],
                      "matchFields": [{"key": "str", "operator": "str", "values": ["str"]}]}
_AFFINITY_TERM: _Shape = {"topologyKey": "str", "labelSelector": _SELECTOR, "mismatchLabelKeys": ["str"],
                          "matchLabelKeys": ["str"]}
_POD_SPEC: _Shape = {
    "containers": [{"ports": [{"containerPort": "int", "protocol": "str", "name": "str"}]}],
    "initContainers": [{"ports": [{"containerPort": "int", "protocol": "str", "name": "str"}]}],
    "nodeName": "str", "nodeSelector": ("map", "str"), "hostNetwork": "bool",
    "topologySpreadConstraints": [{"maxSkew": "int", "topologyKey": "str", "whenUnsatisfiable": "str",
                                   "labelSelector": _SELECTOR, "minDomains": "int", "matchLabelKeys": ["str"]}],
    "affinity": {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [_NODE_TERM]},
                         "preferredDuringSchedulingIgnoredDuringExecution": [{"preference": _NODE_TERM}]},
        "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [_AFFINITY_TERM],
                            "preferredDuringSchedulingIgnoredDuringExecution": [
                                {"weight": "int", "podAffinityTerm": _AFFINITY_TERM}]},
    },
}
_META: _Shape = {"name": "str", "namespace": "str", "labels": ("map", "str"), "annotations": ("map", "str"),
                 "uid": "str", "deletionTimestamp": "str", "ownerReferences": [{"uid": "str"}]}
_PEER: _Shape = {"podSelector": _SELECTOR, "namespaceSelector": _SELECTOR,
                 "ipBlock": {"cidr": "str", "except": ["str"]}}
_NP_PORT: _Shape = {"protocol": "str", "port": "intstr", "endPort": "int"}
_VELERO_BACKUP_SPEC: _Shape = {"includedNamespaces": ["str"], "excludedNamespaces": ["str"],
                               "storageLocation": "str", "ttl": "str"}
_VELERO_STATUS: _Shape = {"phase": "str", "startTimestamp": "str", "completionTimestamp": "str"}
_BINDING: _Shape = {"metadata": _META, "roleRef": {"kind": "str", "name": "str", "apiGroup": "str"},
                    "subjects": [{"kind": "str", "name": "str", "namespace": "str", "apiGroup": "str"}]}
SHAPES: dict[str, _Shape] = {
    "Namespace": {"metadata": _META},
    "Node": {"metadata": _META, "status": {"conditions": [{"type": "str", "status": "str",
                                                           "lastTransitionTime": "str"}]}},
    "Pod": {"metadata": _META, "spec": _POD_SPEC,
            "status": {"phase": "str", "podIP": "str", "conditions": [{"type": "str", "status": "str"}]}},
    "Deployment": {"metadata": _META, "spec": {"replicas": "int", "selector": _SELECTOR,
                                               "template": {"metadata": _META, "spec": _POD_SPEC}}},
    "PodDisruptionBudget": {"metadata": _META, "spec": {"selector": _SELECTOR, "minAvailable": "intstr",
                                                        "maxUnavailable": "intstr"}},
    "Service": {"metadata": _META, "spec": {
        "type": "str", "selector": ("map", "str"), "loadBalancerSourceRanges": ["str"], "externalIPs": ["str"],
        "ports": [{"port": "int", "protocol": "str", "targetPort": "intstr", "nodePort": "int", "name": "str"}]}},
    "NetworkPolicy": {"metadata": _META, "spec": {
        "podSelector": _SELECTOR, "policyTypes": ["str"],
        "ingress": [{"from": [_PEER], "ports": [_NP_PORT]}], "egress": [{"to": [_PEER], "ports": [_NP_PORT]}]}},
    "Ingress": {"metadata": _META, "spec": {"rules": [{"host": "str"}], "tls": [{"hosts": ["str"]}]}},
    "Route": {"metadata": _META, "spec": {"host": "str", "to": {"name": "str"},
                                          "tls": {"termination": "str", "insecureEdgeTerminationPolicy": "str"}}},
    "RoleBinding": _BINDING,
    "ClusterRoleBinding": _BINDING,
    "PersistentVolume": {"metadata": _META, "spec": {
        "claimRef": {"namespace": "str", "name": "str"},
        "nodeAffinity": {"required": {"nodeSelectorTerms": [_NODE_TERM]}}}},
    "PersistentVolumeClaim": {"metadata": _META, "spec": {"volumeName": "str"}},
    "BackupStorageLocation": {"metadata": _META, "status": {"phase": "str"}, "spec": {
        "provider": "str", "objectStorage": {"bucket": "str"}, "config": ("map", "str")}},
    "Schedule": {"metadata": _META, "status": {"phase": "str"}, "spec": {
        "schedule": "str", "paused": "bool", "template": _VELERO_BACKUP_SPEC}},
    "Backup": {"metadata": _META, "spec": _VELERO_BACKUP_SPEC, "status": _VELERO_STATUS},
    "Restore": {"metadata": _META, "status": _VELERO_STATUS,
                "spec": {"backupName": "str", "namespaceMapping": ("map", "str")}},
}
SHAPES["StatefulSet"] = SHAPES["Deployment"]

_SCALARS = (str, int, float, bool)
_TYPE_NAMES = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
               float: "a number"}


def _shape_problem(value: Any, shape: _Shape, path: str) -> str | None:
    """Where `value` does not fit `shape`, and how ("spec.ports[0].port must be ..."); None when it fits."""
    if value is None:
        return None
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return f"{path} must be an object, not {_type_name(value)}"
        for key, inner in shape.items():
            if (problem := _shape_problem(value.get(key), inner, f"{path}.{key}" if path else key)) is not None:
                return problem
        return None
    if isinstance(shape, list):
        if not isinstance(value, list):
            return f"{path} must be a list, not {_type_name(value)}"
        for i, item in enumerate(value):
            if (problem := _shape_problem(item, shape[0], f"{path}[{i}]")) is not None:
                return problem
        return None
    if isinstance(shape, tuple):  # ("map", values)
        if not isinstance(value, dict):
            return f"{path} must be an object, not {_type_name(value)}"
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path} has a key that is {_type_name(key)}, not a string"
            if (problem := _shape_problem(item, shape[1], f"{path}.{key}")) is not None:
                return problem
        return None
    expected = {"str": (str,), "bool": (bool,), "intstr": (int, str), "int": _SCALARS}[shape]
    if not isinstance(value, expected) or (shape == "intstr" and isinstance(value, bool)):
        what = {"str": "a string", "bool": "a boolean", "intstr": "a number or a string", "int": "a number"}[shape]
        return f"{path} must be {what}, not {_type_name(value)}"
    return None


_EXPECTED = {"str": (str,), "bool": (bool,), "intstr": (int, str), "int": _SCALARS}


def _fits(value: Any, shape: _Shape) -> bool:
    """_shape_problem(value, shape, ...) is None, without making the paths it would name."""
    return _checker(shape)(value)


_CHECKERS: dict[int, Callable[[Any], bool]] = {}


def _checker(shape: _Shape) -> Callable[[Any], bool]:
    """`shape` made into one function that asks `_fits`'s question: the shapes are walked once, not
    once per object (a tenth of `check`'s time on 10,000 objects went to walking them)."""
    known = _CHECKERS.get(id(shape))
    if known is None:
        known = _CHECKERS[id(shape)] = _compile(shape)
    return known


def _compile(shape: _Shape) -> Callable[[Any], bool]:
    if isinstance(shape, dict):
        fields = tuple((key, _compile(inner)) for key, inner in shape.items())

        def fits_object(value: Any) -> bool:
            if value is None:
                return True
            if not isinstance(value, dict):
                return False
            get = value.get
            for key, fits in fields:
                item = get(key)
                if item is not None and not fits(item):
                    return False
            return True
        return fits_object
    if isinstance(shape, list):
        fits_item = _compile(shape[0])

        def fits_list(value: Any) -> bool:
            if value is None:
                return True
            if not isinstance(value, list):
                return False
            return all(fits_item(item) for item in value)
        return fits_list
    if isinstance(shape, tuple):
        fits_value = _compile(shape[1])

        def fits_map(value: Any) -> bool:
            if value is None:
                return True
            if not isinstance(value, dict):
                return False
            return all(isinstance(key, str) and fits_value(item) for key, item in value.items())
        return fits_map
    expected = _EXPECTED[shape]
    if shape == "intstr":
        return lambda value: value is None or (isinstance(value, expected) and not isinstance(value, bool))
    return lambda value: value is None or isinstance(value, expected)


def _type_name(value: Any) -> str:
    return next((name for t, name in _TYPE_NAMES.items() if isinstance(value, t) and not
                 (t is int and isinstance(value, bool))), type(value).__name__)


def _add(inputs: Inputs, view: ClusterView, doc: dict, source: Source, default_namespace: str) -> None:
    file = source.file
    kind = doc.get("kind")
    if not isinstance(kind, str) or not kind:
        raise InputError(f"{file}: a document has no kind")
    meta = doc.get("metadata") or {}
    if not isinstance(meta, dict):
        raise InputError(f"{file}: {kind}: metadata must be an object")
    if None in meta.values():
        # As the API server decodes JSON: a null is an absent field (`name: null` is no name).
        meta = {k: v for k, v in meta.items() if v is not None}
        doc = {**doc, "metadata": meta}
    for key in ("name", "namespace"):
        # YAML reads `name: 2024-01-01` as a date and `name: 1` as a number; Kubernetes takes strings only.
        if key in meta and not isinstance(meta[key], str):
            raise InputError(f"{file}: {kind}: metadata.{key} must be a string, not {type(meta[key]).__name__}")
    name = meta.get("name") or ""
    if kind not in CLUSTER_SCOPED and not meta.get("namespace"):
        # kubectl apply puts an object without a namespace into "default", or the one of -n.
        doc = {**doc, "metadata": {**meta, "namespace": default_namespace}}
    namespace = "" if kind in CLUSTER_SCOPED else doc["metadata"]["namespace"]
    if name:
        inputs.sources[(kind, str(namespace), str(name))] = source
    try:
        if kind in PROJECTIONS and (kind not in VELERO_KINDS
                                    or str(doc.get("apiVersion", "")).startswith("velero.io/")):
            if not _fits(doc, SHAPES[kind]) and (problem := _shape_problem(doc, SHAPES[kind], "")) is not None:
                raise InputError(f"{file}: {kind} {name}: malformed object: {problem}")
            view.add(kind, [project(kind, doc)])
            view.pods_observed |= kind == "Pod"
            view.nodes_observed |= kind == "Node"
        elif kind in POLICY_SPECS and str(doc.get("apiVersion", "")).startswith("sncguard.io/"):
            try:
                spec = parse_policy_spec(kind, doc.get("spec") or {})
            except ValueError as exc:
                inputs.errors.append(PolicyError(file, source.line, kind, namespace, name, str(exc)))
                return
            inputs.policies.append(PolicyDocument(kind, namespace, name, spec, file,
                                                  int(meta.get("generation") or 0)))
    except UNREADABLE as exc:
        raise InputError(f"{file}: {kind} {name}: malformed object: {exc}") from None
    if namespace and namespace not in view.namespaces:
        # A namespace the input only mentions, as the API server would create it: with its name label.
        view.add("Namespace", [project("Namespace", {"metadata": {"name": namespace}})])
