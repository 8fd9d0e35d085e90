"""Passage vectors in Milvus: a server (`QA_MILVUS_URI=http://host:19530`) or the embedded milvus-lite.

Each index version gets its own collection, `<milvus_collection>_<version>` with the fields `id` (the row:
passage position) and `vec`; `milvus.json` in the version directory names it. Publishing a version points
the alias `<milvus_collection>` at its collection and drops the collections of versions no longer kept,
so the collection a reader has loaded stays until the version is retired. Scores are inner products of
L2-normalised vectors (= cosine), as with FAISS. The pymilvus client never leaves this module.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
from pymilvus import DataType, MilvusClient, MilvusException

from qa.config import Settings
from qa.errors import IndexCorruptError, IndexWriteError
from qa.vectors.base import resolve_kind

log = logging.getLogger(__name__)

FILE = "milvus.json"
ID, VEC = "id", "vec"
# Collection properties that mark a collection as one of ours, so `publish` drops nothing else.
ALIAS_KEY, VERSION_KEY = "qa_service.alias", "qa_service.version"
INSERT_BATCH = 1000  # rows per insert: 1.5 MB at dim 384, far below gRPC's message limit
FETCH_BATCH = 4096  # ids per get
# A filter lists row ids; long contiguous runs (a document's passages) become ranges instead.
MIN_RUN, MAX_RANGES = 32, 64


def collection_name(prefix: str, version: str) -> str:
    """Milvus names allow letters, digits and underscores only."""
    return f"{prefix}_{re.sub(r'[^A-Za-z0-9_]', '_', version)}"


def filter_expr(allowed: np.ndarray) -> str:
    """A Milvus filter for a row mask, listing whichever side (allowed or excluded) is smaller.

    milvus-lite parses and evaluates an `id in [...]` list at about 10 µs per id (10,000 ids: 70-100 ms
    a query), so listing the smaller side caps that at half the collection, and a filter on a few
    documents, whose passages are contiguous rows, becomes a few ranges whatever their size."""
    keep, drop = np.flatnonzero(allowed), np.flatnonzero(~allowed)
    if drop.size < keep.size:
        return f"not ({_rows_expr(drop)})"
    return _rows_expr(keep)


def _rows_expr(rows: np.ndarray) -> str:
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    starts, ends = rows[np.r_[0, breaks]], rows[np.r_[breaks - 1, rows.size - 1]]
    lengths = ends - starts + 1
    longest = [i for i in np.argsort(-lengths, kind="stable")[:MAX_RANGES] if lengths[i] >= MIN_RUN]
    terms = [f"({ID} >= {starts[i]} and {ID} <= {ends[i]})" for i in sorted(longest)]
    as_range = np.zeros(rows.size, dtype=bool)
    for i in longest:
        as_range[np.searchsorted(rows, starts[i]) : np.searchsorted(rows, ends[i]) + 1] = True
    if not as_range.all():
        terms.append(f"{ID} in [{','.join(map(str, rows[~as_range].tolist()))}]")
    return " or ".join(terms)


def connect(settings: Settings) -> MilvusClient:
    """A client for `milvus_uri`; unset: the milvus-lite database `<index_dir>/milvus.db`."""
    uri = settings.milvus_uri or str(settings.index_dir / "milvus.db")
    if uri.endswith(".db"):  # milvus-lite: a local directory whose parent must exist
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
    try:
        return MilvusClient(uri=uri, token=settings.milvus_token or "")
    except MilvusException as exc:
        if not uri.endswith(".db"):
            raise
        # milvus-lite serves one process: a second one (a CLI build while the API runs) is refused.
        raise MilvusException(message=f"cannot open {uri} (milvus-lite: in use by another process?)") from exc


class MilvusStore:
    backend = "milvus"

    def __init__(self, client: MilvusClient, settings: Settings, name: str, count: int, dim: int, kind: str) -> None:
        self.client, self.settings, self.name = client, settings, name
        self._count, self._dim, self.kind = count, dim, kind

    @classmethod
    def build(cls, settings: Settings, vectors: np.ndarray, version: str) -> MilvusStore:
        """A new collection for index version `version`, filled with `vectors` (row i = passage i), indexed, loaded."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        count, dim = vectors.shape
        kind = resolve_kind(settings.faiss_index, count, settings.hnsw_from)
        name = collection_name(settings.milvus_collection, version)
        try:
            client = connect(settings)
            if client.has_collection(name):  # left by an interrupted build of this version
                client.drop_collection(name)
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field(ID, DataType.INT64, is_primary=True)
            schema.add_field(VEC, DataType.FLOAT_VECTOR, dim=dim)
            properties = {ALIAS_KEY: settings.milvus_collection, VERSION_KEY: version}
            client.create_collection(name, schema=schema, consistency_level="Strong", properties=properties)
            for start in range(0, count, INSERT_BATCH):
                stop = min(count, start + INSERT_BATCH)
                client.insert(name, [{ID: i, VEC: vectors[i]} for i in range(start, stop)])
            client.flush(name)  # sealed rows get the index; unflushed ones are scanned
            index = client.prepare_index_params()
            if kind == "hnsw":
                build = {"M": settings.hnsw_m, "efConstruction": max(40, 2 * settings.hnsw_m)}
                index.add_index(VEC, index_type="HNSW", metric_type="IP", params=build)
            else:
                index.add_index(VEC, index_type="FLAT", metric_type="IP")
            client.create_index(name, index)
            client.load_collection(name)
        except MilvusException as exc:
            raise IndexWriteError(f"cannot build Milvus collection {name}: {exc.message}") from exc
        log.info("Milvus collection %s built (%d rows, %s)", name, count, kind)
        return cls(client, settings, name, count, dim, kind)

    @classmethod
    def load(cls, settings: Settings, version_dir: Path) -> MilvusStore:
        """The collection that `save` recorded in `version_dir`, checked against what was recorded."""
        try:
            meta = json.loads((version_dir / FILE).read_text(encoding="utf-8"))
            name, count, dim = str(meta["collection"]), int(meta["count"]), int(meta["dim"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(f"{FILE} in index version {version_dir.name} cannot be read: {exc}") from exc
        try:
            client = connect(settings)
            if not client.has_collection(name):
                raise IndexCorruptError(f"Milvus collection {name} of index version {version_dir.name} is missing")
            client.load_collection(name)
            stored = int(client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"])
            field = next(f for f in client.describe_collection(name)["fields"] if f["name"] == VEC)
            kind = str(client.describe_index(name, VEC)["index_type"]).lower()
        except MilvusException as exc:
            raise IndexCorruptError(f"Milvus collection {name} cannot be loaded: {exc.message}") from exc
        if stored != count or int(field["params"]["dim"]) != dim:
            raise IndexCorruptError(
                f"Milvus collection {name} holds {stored} vectors of dimension {field['params']['dim']}, "
                f"index version {version_dir.name} expects {count} of dimension {dim}"
            )
        return cls(client, settings, name, count, dim, kind)

    @property
    def count(self) -> int:
        return self._count

    @property
    def dim(self) -> int:
        return self._dim

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        if allowed is not None:
            allowed = np.asarray(allowed, dtype=bool)
        k = min(k, self.count if allowed is None else int(allowed.sum()))
        if k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        expr = "" if allowed is None or allowed.all() else filter_expr(allowed)
        params = {"params": {"ef": max(self.settings.hnsw_ef_search, k)}} if self.kind == "hnsw" else {}
        try:
            hits = self.client.search(
                self.name, [query], limit=k, filter=expr, anns_field=VEC, output_fields=[ID], search_params=params
            )[0]
        except MilvusException as exc:
            raise IndexCorruptError(f"Milvus search in {self.name} failed: {exc.message}") from exc
        ids = np.array([hit["id"] for hit in hits], dtype=np.int64)
        scores = np.array([hit["distance"] for hit in hits], dtype=np.float32)
        if ids.size < k:
            # An HNSW walk cut short by a selective filter (milvus-lite: 0 of 10 allowed rows found with
            # ef=16): the allowed rows are few, so score them exactly instead.
            rows = np.arange(self.count) if allowed is None else np.flatnonzero(allowed)
            return self._exact(query, rows, k)
        return ids, scores

    def _exact(self, query: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores = self.scores_for(query, rows)
        order = np.argsort(-scores, kind="stable")[:k]
        return rows[order].astype(np.int64), scores[order]

    def scores_for(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        if ids.size == 0:
            return np.empty(0, dtype=np.float32)
        return self.vectors(ids) @ np.asarray(query, dtype=np.float32).reshape(-1)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        wanted = np.unique(ids)
        found: dict[int, np.ndarray] = {}
        try:
            for start in range(0, wanted.size, FETCH_BATCH):
                batch = wanted[start : start + FETCH_BATCH].tolist()
                for row in self.client.get(self.name, ids=batch, output_fields=[VEC]):
                    found[int(row[ID])] = np.asarray(row[VEC], dtype=np.float32)
        except MilvusException as exc:
            raise IndexCorruptError(f"Milvus collection {self.name} cannot be read: {exc.message}") from exc
        if len(found) < wanted.size:
            missing = sorted(set(wanted.tolist()) - found.keys())[:5]
            raise IndexCorruptError(f"Milvus collection {self.name} lacks rows {missing}")
        out = np.empty((ids.size, self.dim), dtype=np.float32)
        for i, row_id in enumerate(ids.tolist()):
            out[i] = found[row_id]
        return out

    def save(self, directory: Path) -> None:
        meta = {"collection": self.name, "count": self.count, "dim": self.dim}
        (directory / FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    def publish(self, keep: set[str]) -> None:
        """Point the alias at this collection, then drop our collections of versions not in `keep`."""
        alias = self.settings.milvus_collection
        try:
            if alias in self.client.list_aliases()["aliases"]:
                self.client.alter_alias(self.name, alias)
            else:
                self.client.create_alias(self.name, alias)
            for name in self.client.list_collections():
                if name == self.name or not name.startswith(f"{alias}_"):
                    continue
                properties = self.client.describe_collection(name).get("properties", {})
                if properties.get(ALIAS_KEY) == alias and properties.get(VERSION_KEY) not in keep:
                    self.client.drop_collection(name)
                    log.info("Milvus collection %s of a retired index version dropped", name)
        except MilvusException as exc:
            raise IndexWriteError(f"cannot publish Milvus collection {self.name} as {alias}: {exc.message}") from exc
