"""FT.* commands (RediSearch 2.10's surface over hashes) and the ``search`` module's identity.

The data side lives in ``magpie.search``: schema parsing, the per-index field indexes, the
registry that keeps indexes exact as database 0 changes, and the query executor. Handlers
here read arguments, call those, and shape replies as RediSearch does in RESP2 and RESP3.
"""

from __future__ import annotations

from magpie import errors
from magpie.commands.table import command, container
from magpie.errors import CommandError
from magpie.protocol.replies import OK
from magpie.search.aggregate import parse_aggregate_args, row_pairs, run_aggregate
from magpie.search.executor import (
    SearchError,
    SearchRequest,
    SearchResult,
    document_fields,
    execute,
    number_text,
    page,
    parse_for,
    parse_search_args,
)
from magpie.search.index import SearchIndex
from magpie.search.module import module_list_entry
from magpie.search.query_ast import explain
from magpie.search.schema import (
    SchemaError,
    describe_field,
    describe_field_map,
    parse_alter_fields,
    parse_create,
)
from magpie.store.hashes import Hash

cmd = command


def _registry(client):  # noqa: ANN001, ANN202
    return client.server.search


def _index(client, name: bytes, missing: str) -> SearchIndex:  # noqa: ANN001
    index = _registry(client).indexes.get(name.decode("utf-8", "surrogateescape"))
    if index is None:
        raise CommandError(missing)
    return index


def _changed(client) -> None:
    """An index was created, altered or dropped: a change to the dataset, so the command is
    propagated (AOF, replicas) and counts for save points, as RediSearch's
    RedisModule_ReplicateVerbatim makes it in Redis."""
    client.server.keyspace.signals.dirty += 1


def _no_such_index(name: bytes) -> str:
    return f"{name.decode('utf-8', 'replace')}: no such index"


@cmd("search", "ft.create", -2, "write denyoom", summary="Creates an index with the given spec.", since="1.0.0")
def ft_create(client, args):
    try:
        spec = parse_create(args[1:])
    except SchemaError as exc:
        raise CommandError(exc.message) from None
    registry = _registry(client)
    if spec.name in registry.indexes:
        raise CommandError("Index already exists")
    if spec.on != "HASH":
        raise CommandError("Magpie indexes hashes only (ON HASH)")
    if spec.filter is not None:
        raise CommandError("FILTER expressions are not supported by Magpie")
    try:
        index = SearchIndex(spec)
    except ValueError as exc:
        raise CommandError(f"Bad arguments for vector field: {exc}") from None
    registry.add(index, scan=not spec.skip_initial_scan)
    _changed(client)
    return OK


@cmd("search", "ft.alter", -5, "write denyoom", summary="Adds a new field to the index.", since="1.0.0")
def ft_alter(client, args):
    index = _index(client, args[1], "Unknown index name")
    rest = args[2:]
    if rest and rest[0].upper() == b"SKIPINITIALSCAN":
        rest = rest[1:]
    try:
        fields = parse_alter_fields(index.spec, rest)
    except SchemaError as exc:
        raise CommandError(exc.message) from None
    index.add_fields(fields)
    _changed(client)
    return OK


@cmd("search", "ft.dropindex", -2, "write", summary="Deletes the index.", since="2.0.0")
def ft_dropindex(client, args):
    if len(args) > 3 or (len(args) == 3 and args[2].upper() != b"DD"):
        raise CommandError(errors.wrong_arity("ft.dropindex"))
    registry = _registry(client)
    name = args[1].decode("utf-8", "surrogateescape")
    if name not in registry.indexes:
        raise CommandError("Unknown Index name")
    index = registry.drop(name)
    if len(args) == 3:
        db = client.server.keyspace[0]
        for key in list(index.keys()):
            db.delete(key)
    _changed(client)
    return OK


@cmd("search", "ft._list", 1, "readonly", summary="Returns a list of all existing indexes.", since="2.0.0")
def ft_list(client, args):
    names = [name.encode("utf-8", "surrogateescape") for name in _registry(client).indexes]
    return names


@cmd("search", "ft.explain", -3, "readonly", summary="Returns the execution plan for a complex query.", since="1.0.0")
def ft_explain(client, args):
    index = _index(client, args[1], _no_such_index(args[1]))
    try:
        req = parse_search_args(args[3:])
        text = explain(parse_for(index, args[2].decode("utf-8", "surrogateescape"), req.params))
        return text.encode("utf-8", "surrogateescape")  # query bytes come back as they were sent
    except SearchError as exc:
        raise CommandError(exc.message) from None


@cmd("search", "ft.tagvals", 3, "readonly", summary="Returns the distinct tags indexed in a Tag field.", since="1.0.0")
def ft_tagvals(client, args):
    index = _index(client, args[1], "Unknown Index name")
    tags = index.tags.get(args[2].decode("utf-8", "surrogateescape"))
    if tags is None:
        raise CommandError("No such field")
    return [v.encode("utf-8", "surrogateescape") for v in tags.values()]


@cmd("search", "ft.search", -3, "readonly", summary="Searches the index with a textual query, returning either documents or just ids.", since="1.0.0")
def ft_search(client, args):
    index = _index(client, args[1], _no_such_index(args[1]))
    try:
        req = parse_search_args(args[3:])
        req.query = args[2].decode("utf-8", "surrogateescape")
        result = execute(index, req, client.server.keyspace[0])
    except SearchError as exc:
        raise CommandError(exc.message) from None
    docs = page(result, req)
    db = client.server.keyspace[0]
    rows = []
    computed_only = req.return_fields is not None and all(
        name in result.computed_names for name, _ in req.return_fields
    )  # RETURN of distances alone: the hashes need not be read
    if computed_only and client.resp == 2 and not (req.nocontent or req.withscores):
        return _computed_reply(result, docs, req.return_fields)  # type: ignore[arg-type]
    for doc in docs:
        fields = None
        if not req.nocontent:
            stored = None
            if not computed_only:
                value = db.peek(doc.key)
                if value is None:  # expired as it was read: it has just left the index too
                    continue
                stored = value if value.__class__ is Hash else {}  # a Hash is a dict: read, not copied
            fields = document_fields(doc, stored, req, result.computed.get(doc.doc_id), index)
        rows.append((doc, result.scores.get(doc.doc_id, 1.0), fields))
    if client.resp == 3:
        return _resp3_reply(result.total, rows, req)
    reply: list[object] = [result.total]
    for doc, score, fields in rows:
        reply.append(doc.key)
        if req.withscores:
            reply.append(_score_text(score))
        if fields is not None:
            reply.append([item for pair in fields for item in pair])
    return reply


def _computed_reply(result: SearchResult, docs: list, returned: list[tuple[str, str]]) -> list:
    """The RESP2 reply of a query that returns only distances (a KNN query's usual
    ``RETURN 1 dist``), built without the generic per-field machinery: the hot case."""
    names = [(name, alias.encode("utf-8", "surrogateescape")) for name, alias in returned]
    computed = result.computed
    reply: list[object] = [result.total]
    for doc in docs:
        values = computed.get(doc.doc_id) or {}
        reply.append(doc.key)
        fields: list[object] = []
        for name, encoded in names:
            value = values.get(name)
            if value is not None:
                fields.append(encoded)
                fields.append(number_text(value))
        reply.append(fields)
    return reply


def _score_text(score: float) -> bytes:
    return b"%.17g" % score if score != int(score) else b"%d" % int(score)


def _resp3_reply(total: int, rows: list, req: SearchRequest) -> dict:
    results = []
    for doc, score, fields in rows:
        item: dict[bytes, object] = {b"id": doc.key}
        if req.withscores:
            item[b"score"] = float(score)
        if fields is not None:
            item[b"extra_attributes"] = dict(fields)
        item[b"values"] = []
        results.append(item)
    return {
        b"attributes": [],
        b"format": b"STRING",
        b"results": results,
        b"total_results": total,
        b"warning": [],
    }


@cmd("search", "ft.info", 2, "readonly", summary="Returns information and statistics on the index.", since="1.0.0")
def ft_info(client, args):
    index = _index(client, args[1], "Unknown index name")
    spec = index.spec
    text = index.text
    num_docs = len(index.docs)
    vector_bytes = sum(int(v.info().get("memory", 0) or 0) for v in index.vectors.values())  # type: ignore[call-overload]
    definition: list[object] = [
        b"key_type", spec.on.encode(),
        b"prefixes", list(spec.prefixes),
        b"default_score", _score_text(spec.score),
    ]  # fmt: skip
    info: dict[bytes, object] = {
        b"index_name": spec.name.encode("utf-8", "surrogateescape"),
        b"index_options": [],
        b"index_definition": definition,
        b"attributes": [
            describe_field_map(f) if client.resp == 3 else describe_field(f) for f in spec.fields
        ],
        b"num_docs": num_docs,
        b"max_doc_id": index.next_id - 1,
        b"num_terms": text.num_terms,
        b"num_records": text.num_records,
        b"inverted_sz_mb": 0.0,
        b"vector_index_sz_mb": vector_bytes / (1024 * 1024),
        b"total_inverted_index_blocks": 0,
        b"offset_vectors_sz_mb": 0.0,
        b"doc_table_size_mb": 0.0,
        b"sortable_values_size_mb": 0.0,
        b"key_table_size_mb": 0.0,
        b"records_per_doc_avg": (text.num_records / num_docs) if num_docs else 0.0,
        b"bytes_per_record_avg": 0.0,
        b"offsets_per_term_avg": 0.0,
        b"offset_bits_per_record_avg": 0.0,
        b"hash_indexing_failures": index.failures,
        b"total_indexing_time": 0.0,
        b"indexing": int(index.indexing),
        b"percent_indexed": index.percent_indexed,
        b"number_of_uses": 0,
        b"cleaning": 0,
    }
    if client.resp == 3:
        return info
    return [item for pair in info.items() for item in pair]


@cmd("search", "ft.debug", -2, "readonly", summary="Debugging helpers: VECSIM_INFO shows a vector index's internals.", since="2.0.0")
def ft_debug(client, args):
    if args[1].upper() != b"VECSIM_INFO" or len(args) != 4:
        raise CommandError("Unknown subcommand or wrong number of arguments")
    index = _index(client, args[2], "Unknown index name")
    vectors = index.vectors.get(args[3].decode("utf-8", "surrogateescape"))
    if vectors is None:
        raise CommandError("Vector index not found")
    info = {name.encode(): value for name, value in vectors.info().items()}
    # Magpie's own: "loaded" when restored whole from a snapshot, "rebuilt" when the saved
    # one had to be rebuilt from the hashes, "built" otherwise (search/persist.py)
    info[b"origin"] = index.vector_origin.get(args[3].decode("utf-8", "surrogateescape"), "built")
    if client.resp == 3:
        return info
    return [item for pair in info.items() for item in pair]


@cmd("search", "ft.config", -2, "readonly", summary="Configures runtime parameters.", since="1.0.0")
def ft_config(client, args):
    sub = args[1].upper()
    if sub == b"GET" and len(args) == 3:
        pattern = args[2].upper()
        values = {b"MAXSEARCHRESULTS": b"1000000", b"DEFAULT_DIALECT": b"1", b"TIMEOUT": b"500"}
        chosen = values if pattern == b"*" else {k: v for k, v in values.items() if k == pattern}
        return [[k, v] for k, v in chosen.items()]
    if sub == b"SET" and len(args) == 4:
        return OK
    raise CommandError("Unknown subcommand or wrong number of arguments")


container("server", "module", summary="A container for module commands.", since="4.0.0")


@command("server", "list", 2, "admin noscript", parent="module", since="4.0.0", summary="Returns all loaded modules.")
def module_list(client, args):
    return [module_list_entry()]


@cmd("search", "ft.aggregate", -3, "readonly", summary="Runs a search query and performs aggregate transformations.", since="1.1.0")
def ft_aggregate(client, args):
    index = _index(client, args[1], _no_such_index(args[1]))
    try:
        req = parse_aggregate_args(args[3:])
        req.query = args[2].decode("utf-8", "surrogateescape")
        rows = run_aggregate(index, req, client.server.keyspace[0])
        if req.cursor:
            chunk, cid = client.server.search.cursors.create(index.name, rows, req.cursor_count, req.cursor_max_idle_ms)
            return [_aggregate_reply(client, len(rows), chunk), cid]
    except SearchError as exc:
        raise CommandError(exc.message) from None
    return _aggregate_reply(client, len(rows), rows)


def _aggregate_reply(client, total: int, rows: list) -> object:  # noqa: ANN001
    if client.resp == 3:
        return {
            b"attributes": [],
            b"format": b"STRING",
            b"results": [
                {b"extra_attributes": dict(zip(pairs[::2], pairs[1::2], strict=True)), b"values": []}
                for pairs in map(row_pairs, rows)
            ],
            b"total_results": total,
            b"warning": [],
        }
    return [total, *(row_pairs(row) for row in rows)]


container("search", "ft.cursor", summary="Reads or deletes FT.AGGREGATE cursors.", since="1.1.0")


@command("search", "read", -4, "readonly", parent="ft.cursor", summary="Reads from a cursor.", since="1.1.0")
def ft_cursor_read(client, args):
    index = _index(client, args[2], _no_such_index(args[2]))
    count = None
    if len(args) == 6 and args[4].upper() == b"COUNT":
        count = _cursor_number(args[5])
    elif len(args) != 4:
        raise CommandError("Bad arguments for COUNT")
    try:
        chunk, cid = client.server.search.cursors.read(index.name, _cursor_number(args[3]), count)
    except SearchError as exc:
        raise CommandError(exc.message) from None
    return [_aggregate_reply(client, 0, chunk), cid]


@command("search", "del", 4, "readonly", parent="ft.cursor", summary="Deletes a cursor.", since="1.1.0")
def ft_cursor_del(client, args):
    index = _index(client, args[2], _no_such_index(args[2]))
    try:
        client.server.search.cursors.delete(index.name, _cursor_number(args[3]))
    except SearchError as exc:
        raise CommandError(exc.message) from None
    return OK


def _cursor_number(raw: bytes) -> int:
    try:
        return int(raw)
    except ValueError:
        raise CommandError("Bad cursor ID") from None
