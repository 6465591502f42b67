"""Writes the hand-built mongodump-format fixtures under test/fixtures/ (run
once; the output is committed). Layout and bytes as docs/DESIGN.md, "Dump
format", describes mongodump 100.x: concatenated BSON, one-line compact
canonical extended JSON metadata, prelude.json; and an old-style dump with
legacy extended JSON and index "ns" fields.

usage: dump_make_fixture.py FIXTURES_DIR
"""
import datetime
import json
import os
import sys

import bson
from bson import Binary, Decimal128, Int64, ObjectId, Timestamp

PEOPLE = [
    {"_id": ObjectId("5f1d7a1e2b3c4d5e6f708192"), "name": "ada", "email": "ada@example.com",
     "age": 36, "joined": datetime.datetime(2020, 5, 17, 10, 0, 0)},
    {"_id": -1, "name": "minus one", "email": "m1@example.com", "tags": ["a", "b"]},
    {"_id": "", "name": "empty string id", "email": "empty@example.com", "n": Int64(2**40)},
    {"_id": {"k": 1, "z": "x"}, "name": "subdoc id", "email": "sub@example.com",
     "bin": Binary(b"\x00\x01\x02\x03", 0), "dec": Decimal128("12.50")},
    {"_id": 42, "name": "nested", "email": "nested@example.com",
     "deep": {"a": {"b": {"c": [1, 2, {"d": None}]}}}, "ts": Timestamp(1700000000, 7)},
]

THINGS = [
    {"_id": 1, "ts": datetime.datetime(2021, 1, 1), "v": 1.5},
    {"_id": 2, "ts": datetime.datetime(2021, 1, 2), "v": "two"},
    {"_id": 3, "ts": datetime.datetime(2021, 1, 3), "v": [3]},
]

SLASH = [{"_id": 1, "x": "slash"}]


def write_bson(path, docs):
    with open(path, "wb") as f:
        for d in docs:
            f.write(bson.encode(d))


def write_text(path, text):
    with open(path, "w") as f:
        f.write(text)


def compact(obj):
    return json.dumps(obj, separators=(",", ":"))


def n32(v):
    return {"$numberInt": str(v)}


def main():
    root = sys.argv[1]
    # mongodump 100.x style.
    d = os.path.join(root, "dump-mongodump", "fixture")
    os.makedirs(d, exist_ok=True)
    write_bson(os.path.join(d, "people.bson"), PEOPLE)
    write_text(os.path.join(d, "people.metadata.json"), compact({
        "indexes": [
            {"v": n32(2), "key": {"_id": n32(1)}, "name": "_id_"},
            {"v": n32(2), "unique": True, "key": {"email": n32(1)}, "name": "email_1"},
            {"v": n32(2), "key": {"age": n32(-1), "name": n32(1)}, "name": "age_-1_name_1"},
            {"v": n32(2), "key": {"joined": n32(1)}, "name": "joined_1",
             "expireAfterSeconds": n32(2147483647)},
        ],
        "uuid": "0f6d3b7c1e2a4b5c8d9e0a1b2c3d4e5f",
        "collectionName": "people",
        "type": "collection",
    }))
    write_bson(os.path.join(d, "with%2Fslash.bson"), SLASH)
    write_text(os.path.join(d, "with%2Fslash.metadata.json"), compact({
        "indexes": [{"v": n32(2), "key": {"_id": n32(1)}, "name": "_id_"}],
        "uuid": "1a2b3c4d5e6f708192a3b4c5d6e7f809",
        "collectionName": "with/slash",
        "type": "collection",
    }))
    write_text(os.path.join(root, "dump-mongodump", "prelude.json"),
               compact({"ServerVersion": "6.0.12", "ToolVersion": "100.13.0"}))
    # An old mongodump (3.x): legacy extended JSON, index specs carrying
    # "ns". (Capped, so no TTL index: real servers refuse one there.)
    d = os.path.join(root, "dump-legacy", "legacy")
    os.makedirs(d, exist_ok=True)
    write_bson(os.path.join(d, "things.bson"), THINGS)
    write_text(os.path.join(d, "things.metadata.json"), compact({
        "options": {"capped": True, "size": 1048576},
        "indexes": [
            {"v": 2, "key": {"_id": 1}, "name": "_id_", "ns": "legacy.things"},
            {"v": 2, "key": {"ts": 1}, "name": "ts_1", "ns": "legacy.things"},
        ],
    }))


if __name__ == "__main__":
    main()
