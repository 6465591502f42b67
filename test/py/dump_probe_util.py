"""Helpers for test/token-probe.bats.

usage:
  dump_probe_util.py snapshot URI DB COLL           print every document (raw
                                                    BSON hex, _id order) and a count
  dump_probe_util.py odd-ids URI DB COLL            insert documents with odd _ids
  dump_probe_util.py resume-check URI DB COLL TOKENFILE
        resume after the token in TOKENFILE, insert one document, and check
        that the first event seen is that insert (nothing of the probe)
  dump_probe_util.py watch-quiet URI DB COLL -- CMD...
        open a change stream, run CMD, insert a marker document, and check
        that the marker's insert is the first event: CMD wrote nothing
"""
import json
import subprocess
import sys

import pymongo
from bson import MaxKey, MinKey, ObjectId
from bson.codec_options import CodecOptions
from bson.json_util import loads
from bson.raw_bson import RawBSONDocument


def coll_of(uri, db, coll, raw=False):
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=10000)
    opts = CodecOptions(document_class=RawBSONDocument) if raw else None
    return client[db].get_collection(coll, codec_options=opts)


def snapshot(uri, db, coll):
    c = coll_of(uri, db, coll, raw=True)
    docs = [d.raw.hex() for d in c.find({}).sort("_id", 1)]
    print("count %d" % c.count_documents({}))
    for d in docs:
        print(d)


def odd_ids(uri, db, coll):
    c = coll_of(uri, db, coll)
    c.insert_many([
        {"_id": -1, "v": "minus one"},
        {"_id": None, "v": "null"},
        {"_id": MinKey(), "v": "minkey"},
        {"_id": MaxKey(), "v": "maxkey"},
        {"_id": {}, "v": "empty doc"},
        {"_id": "", "v": "empty string"},
        {"_id": 0, "v": "zero"},
        {"_id": {"changestream-migration-probe": 1}, "v": "looks like a probe"},
        {"_id": ObjectId(), "v": "oid"},
    ])


def first_event(stream, timeout_s=10):
    import time
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        ev = stream.try_next()
        if ev is not None:
            return ev
    raise SystemExit("no change event within %d s" % timeout_s)


def resume_check(uri, db, coll, token_path):
    with open(token_path) as f:
        token = loads(json.dumps(json.load(f)["resumeToken"]))
    c = coll_of(uri, db, coll)
    with c.watch(resume_after=token, max_await_time_ms=200) as stream:
        marker = ObjectId()
        c.insert_one({"_id": marker, "after": "probe"})
        ev = first_event(stream)
        if ev["operationType"] != "insert" or ev["documentKey"]["_id"] != marker:
            raise SystemExit("first event after the token is not ours: %r" % ev)
    print("ok")


def watch_quiet(uri, db, coll, cmd):
    c = coll_of(uri, db, coll)
    with c.watch(max_await_time_ms=200) as stream:
        rc = subprocess.call(cmd)
        if rc != 0:
            raise SystemExit("command exited %d" % rc)
        marker = ObjectId()
        c.insert_one({"_id": marker, "quiet": "check"})
        ev = first_event(stream)
        if ev["operationType"] != "insert" or ev["documentKey"]["_id"] != marker:
            raise SystemExit("the command wrote to the source: %r" % ev)
    c.delete_one({"_id": marker})
    print("ok")


def main():
    cmd = sys.argv[1]
    if cmd == "snapshot":
        snapshot(*sys.argv[2:5])
    elif cmd == "odd-ids":
        odd_ids(*sys.argv[2:5])
    elif cmd == "resume-check":
        resume_check(*sys.argv[2:6])
    elif cmd == "watch-quiet":
        rest = sys.argv[5:]
        if rest and rest[0] == "--":
            rest = rest[1:]
        watch_quiet(sys.argv[2], sys.argv[3], sys.argv[4], rest)
    else:
        raise SystemExit("unknown command %s" % cmd)


if __name__ == "__main__":
    main()
