"""Compare two collections: documents (byte-equal BSON, in _id order), and
optionally indexes and collection options.

usage: dump_compare.py URI1 NS1 URI2 NS2 [--indexes] [--options]
                       [--ignore-index NAME ...]

Prints the first differences and exits 1 when the collections differ, 0 when
they are identical.
"""
import argparse
import sys

import pymongo
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument

RAW = CodecOptions(document_class=RawBSONDocument)


def coll_of(uri, ns):
    db, coll = ns.split(".", 1)
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=10000)
    return client, client[db].get_collection(coll, codec_options=RAW)


def index_view(coll, ignore):
    out = {}
    for spec in coll.database.get_collection(coll.name).list_indexes():
        spec = dict(spec)
        name = spec["name"]
        if name in ignore:
            continue
        out[name] = {
            "key": list(spec["key"].items()),
            "unique": bool(spec.get("unique", False)),
            "expireAfterSeconds": spec.get("expireAfterSeconds"),
            "sparse": bool(spec.get("sparse", False)),
        }
    return out


def options_of(coll):
    for info in coll.database.list_collections(filter={"name": coll.name}):
        return dict(info.get("options", {}))
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("uri1")
    parser.add_argument("ns1")
    parser.add_argument("uri2")
    parser.add_argument("ns2")
    parser.add_argument("--indexes", action="store_true")
    parser.add_argument("--options", action="store_true")
    parser.add_argument("--ignore-index", action="append", default=[])
    args = parser.parse_args()
    _c1, a = coll_of(args.uri1, args.ns1)
    _c2, b = coll_of(args.uri2, args.ns2)
    problems = []
    left = a.find({}, sort=[("_id", 1)], batch_size=5000)
    right = b.find({}, sort=[("_id", 1)], batch_size=5000)
    n = 0
    while len(problems) < 10:
        x = next(left, None)
        y = next(right, None)
        if x is None and y is None:
            break
        if x is None:
            problems.append("extra in %s: _id %r" % (args.ns2, y["_id"]))
            continue
        if y is None:
            problems.append("missing in %s: _id %r" % (args.ns2, x["_id"]))
            continue
        n += 1
        if x.raw != y.raw:
            problems.append("different document at position %d: _id %r vs %r" % (n, x["_id"], y["_id"]))
    if args.indexes:
        ia, ib = index_view(a, args.ignore_index), index_view(b, args.ignore_index)
        if ia != ib:
            problems.append("indexes differ: %r vs %r" % (ia, ib))
    if args.options:
        oa, ob = options_of(a), options_of(b)
        if oa != ob:
            problems.append("options differ: %r vs %r" % (oa, ob))
    for p in problems:
        print(p)
    if problems:
        sys.exit(1)
    print("identical: %d documents" % n)


if __name__ == "__main__":
    main()
