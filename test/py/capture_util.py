"""Helpers for test/cdc-capture.bats: token files, workloads, reference
change streams and the exactly-once check of staged events.

Run as `$PY -m capture_util COMMAND ARGS...` (PYTHONPATH holds test/py).
"""
import datetime
import os
import json
import random
import sys
import threading

import bson
import pymongo
from bson import json_util


def connect(uri):
    return pymongo.MongoClient(uri, serverSelectionTimeoutMS=10000)


def token_json(token):
    return json.loads(json_util.dumps(token, json_options=json_util.CANONICAL_JSON_OPTIONS))


def write_token_file(uri, db, coll, path, writer="test/probe"):
    """Takes a resume token for "now" on db.coll (the PBRT of an empty
    stream) and writes the token file format of lib/tokenfile.h."""
    client = connect(uri)
    with client[db][coll].watch(max_await_time_ms=100) as stream:
        stream.try_next()
        token = stream.resume_token
    reply = client[db].command("ping")
    op_time = reply.get("operationTime") or bson.timestamp.Timestamp(0, 0)
    doc = {
        "version": 1,
        "ns": "%s.%s" % (db, coll),
        "resumeToken": token_json(token),
        "clusterTime": {"t": op_time.time, "i": op_time.inc},
        "writtenAt": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "writer": writer,
    }
    with open(path, "w") as f:
        json.dump(doc, f)
    return token


def read_token_file(path):
    with open(path) as f:
        doc = json.load(f)
    return json_util.loads(json.dumps(doc["resumeToken"]))


def workload(uri, db, coll, total, writers=4, seed=1):
    """total mixed inserts/updates/replaces/deletes from `writers` threads,
    each on its own _id range."""
    per = total // writers
    errors = []

    def run(w):
        try:
            rnd = random.Random(seed * 100 + w)
            c = connect(uri)[db][coll]
            live = []
            next_id = 0
            for _ in range(per):
                r = rnd.random()
                if not live or r < 0.4:
                    _id = "s%d-w%d-%d" % (seed, w, next_id)
                    next_id += 1
                    c.insert_one({"_id": _id, "n": 0, "pad": "x" * rnd.randint(10, 200),
                                  "tags": [1, 2, 3]})
                    live.append(_id)
                elif r < 0.7:
                    _id = rnd.choice(live)
                    if rnd.random() < 0.5:
                        c.update_one({"_id": _id}, {"$inc": {"n": 1}, "$set": {"w": w}})
                    else:
                        c.update_one({"_id": _id}, {"$unset": {"pad": ""},
                                                    "$push": {"tags": {"$each": [9], "$slice": -3}}})
                elif r < 0.85:
                    _id = rnd.choice(live)
                    c.replace_one({"_id": _id}, {"_id": _id, "replaced": True, "r": rnd.random()})
                else:
                    _id = live.pop(rnd.randrange(len(live)))
                    c.delete_one({"_id": _id})
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=run, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit("workload failed: %s" % errors[0])


def reference_events(uri, db, coll, token, full_document=None, split=False):
    """Every event after token, read by hand with aggregate and getMore (this
    pymongo cannot ask for showExpandedEvents), as cdc-capture asks: with
    showExpandedEvents on a 6.0+ source."""
    client = connect(uri)
    spec = {"resumeAfter": token, "fullDocument": full_document or "default"}
    if client.admin.command("buildInfo")["versionArray"][0] >= 6:
        spec["showExpandedEvents"] = True
    pipeline = [{"$changeStream": spec}]
    if split:
        pipeline.append({"$changeStreamSplitLargeEvent": {}})
    database = client[db]
    cursor = database.command("aggregate", coll, pipeline=pipeline,
                              cursor={"batchSize": 5000})["cursor"]
    events = list(cursor["firstBatch"])
    empty = 0
    while empty < 2 and cursor["id"]:
        cursor = database.command("getMore", cursor["id"], collection=coll, batchSize=5000,
                                  maxTimeMS=300)["cursor"]
        batch = cursor["nextBatch"]
        empty = 0 if batch else empty + 1
        events.extend(batch)
    if cursor["id"]:
        database.command("killCursors", coll, cursors=[cursor["id"]])
    return events


def staged_docs(uri, db, coll, staging="cdc"):
    client = connect(uri)
    ns = "%s.%s" % (db, coll)
    return list(client[db][staging].find({"ns": ns}, sort=[("seq", 1)]))


def assemble(docs):
    """Staged documents (in seq order) -> list of (first seq, event, parts):
    chunk parts are concatenated, split fragments merged."""
    out = []
    chunk_bytes, chunk_seq = [], None
    frag, frag_seq, frag_parts = None, None, 0
    for d in docs:
        if "chunk" in d:
            if d["chunk"]["index"] == 0:
                chunk_bytes, chunk_seq = [], d["seq"]
            assert d["chunk"]["index"] == len(chunk_bytes), "chunk out of order at seq %d" % d["seq"]
            chunk_bytes.append(bytes(d["eventBytes"]))
            if d["chunk"]["index"] < d["chunk"]["of"] - 1:
                continue
            event = bson.decode(b"".join(chunk_bytes))
            first, parts = chunk_seq, len(chunk_bytes)
        else:
            event, first, parts = d["event"], d["seq"], 1
        split = event.get("splitEvent")
        if split:
            if split["fragment"] == 1:
                frag, frag_seq, frag_parts = {}, first, 0
            for k, v in event.items():
                if k not in ("_id", "splitEvent"):
                    frag[k] = v
            frag["_id"] = event["_id"]
            frag_parts += parts
            if split["fragment"] < split["of"]:
                continue
            event, first, parts = frag, frag_seq, frag_parts
        out.append((first, event, parts))
    return out


def compare(ref, staged, check_tokens=True):
    """Returns a list of differences between reference events and assembled
    staged events (same order, same token, same change)."""
    diffs = []
    if len(ref) != len(staged):
        diffs.append("count: reference %d, staged %d" % (len(ref), len(staged)))
    for i, (r, (seq, s, _)) in enumerate(zip(ref, staged)):
        where = "event %d (seq %d)" % (i, seq)
        if check_tokens and r["_id"] != s["_id"]:
            diffs.append("%s: token %s != %s" % (where, s["_id"], r["_id"]))
        for key in ("operationType", "documentKey", "clusterTime", "ns"):
            if r.get(key) != s.get(key):
                diffs.append("%s: %s %r != %r" % (where, key, s.get(key), r.get(key)))
        if r["operationType"] in ("insert", "replace") and r.get("fullDocument") != s.get("fullDocument"):
            diffs.append("%s: fullDocument differs" % where)
        if r["operationType"] == "update" and r.get("updateDescription") != s.get("updateDescription"):
            diffs.append("%s: updateDescription %r != %r" % (
                where, s.get("updateDescription"), r.get("updateDescription")))
        if len(diffs) > 10:
            break
    return diffs


def check_seqs(docs):
    seqs = [d["seq"] for d in docs]
    if seqs != list(range(1, len(seqs) + 1)):
        dup = len(seqs) - len(set(seqs))
        return ["seqs are not 1..%d without holes (%d duplicates, first %s, last %s)" % (
            len(seqs), dup, seqs[:1], seqs[-1:])]
    if any(d["status"] != "pending" for d in docs):
        return ["a staged document is not pending"]
    return []


def cmd_check(src, tgt, db, coll, token_path, staging="cdc"):
    token = read_token_file(token_path)
    ref = reference_events(src, db, coll, token)
    docs = staged_docs(tgt, db, coll, staging)
    diffs = check_seqs(docs) + compare(ref, assemble(docs))
    print("reference=%d staged_docs=%d" % (len(ref), len(docs)))
    for d in diffs[:20]:
        print(d)
    return 1 if diffs else 0


def cmd_count(tgt, db, coll, staging="cdc"):
    ns = "%s.%s" % (db, coll)
    print(connect(tgt)[db][staging].count_documents({"ns": ns}))
    return 0


def cmd_checkpoint(tgt, db, coll, field, staging="cdc"):
    cp = connect(tgt)[db][staging + "_meta"].find_one({"_id": "checkpoint:%s.%s" % (db, coll)})
    v = cp
    for k in field.split("."):
        v = None if v is None else v.get(k)
    print(v)
    return 0


def cmd_reference_count(src, db, coll, token_path):
    print(len(reference_events(src, db, coll, read_token_file(token_path))))
    return 0


def cmd_failpoint(uri, spec_json, app_name):
    """failCommand for the connections of one appName only."""
    spec = json.loads(spec_json)
    spec.setdefault("data", {})["appName"] = app_name
    connect(uri).admin.command(dict([("configureFailPoint", "failCommand")] + list(spec.items())))
    return 0


def cmd_failpoint_off(uri):
    connect(uri).admin.command({"configureFailPoint": "failCommand", "mode": "off"})
    return 0


def cmd_inserts(uri, db, coll, start, n):
    """n inserts with _ids start.., in ordered insert_many calls of 20."""
    c = connect(uri)[db][coll]
    start, n = int(start), int(n)
    for i in range(start, start + n, 20):
        c.insert_many([{"_id": j, "v": j} for j in range(i, min(start + n, i + 20))])
    return 0


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "failpoint":
        return cmd_failpoint(*args)
    if cmd == "failpoint-off":
        return cmd_failpoint_off(*args)
    if cmd == "inserts":
        return cmd_inserts(*args)
    if cmd == "checkpoint":
        return cmd_checkpoint(*args)
    if cmd == "reference-count":
        return cmd_reference_count(*args)
    if cmd == "token":
        write_token_file(*args)
        return 0
    if cmd == "workload":
        uri, db, coll, total = args[:4]
        workload(uri, db, coll, int(total), seed=int(args[4]) if len(args) > 4 else 1)
        return 0
    if cmd == "check":
        return cmd_check(*args)
    if cmd == "count":
        return cmd_count(*args)
    raise SystemExit("unknown command %s" % cmd)


if __name__ == "__main__":
    rc = main(sys.argv)
    # pymongo's monitor threads make a normal exit wait up to 0.5 s: tests
    # poll with this script, so leave at once.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)
