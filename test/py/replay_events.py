"""Synthesized change events for cdc-replay tests.

A SimSource plays a source collection in memory: every random write changes
its documents (the truth) and yields the change event MongoDB would emit for
it (operationType, clusterTime, wallTime, ns, documentKey, fullDocument or
updateDescription {updatedFields, removedFields, truncatedArrays}). The
expected target after replay is the simulator's final state, computed
independently of cdc-replay's rules.

stage() writes events as staged documents (lib/staging_format.h) into the
staging collection on the target, exactly as cdc-capture would.
"""

import copy
import datetime
import os
import random
import time

import bson
from bson.int64 import Int64
from bson.raw_bson import RawBSONDocument
from bson.son import SON
from bson.timestamp import Timestamp

BASE_T = 1_700_000_000


class SimSource:
    def __init__(self, db, coll, seed=1, shard_key=False, base_t=BASE_T):
        self.db = db
        self.coll = coll
        self.rng = random.Random(seed)
        self.docs = {}  # _id -> dict (the truth)
        self.shard_key = shard_key
        self.t = base_t
        self.i = 0
        self.n = 0
        self.next_id = 1

    # -- event plumbing -------------------------------------------------
    def tick(self):
        self.i += 1
        if self.i > 50:
            self.t += 1
            self.i = 1
        self.n += 1
        return Timestamp(self.t, self.i)

    def key_of(self, doc):
        if self.shard_key:
            return SON([("sk", doc["sk"]), ("_id", doc["_id"])])
        return SON([("_id", doc["_id"])])

    def event(self, op, doc_key, **fields):
        ts = self.tick()
        ev = SON()
        ev["_id"] = {"_data": "82%08X%08X%016X" % (ts.time, ts.inc, self.n)}
        ev["operationType"] = op
        ev["clusterTime"] = ts
        ev["wallTime"] = datetime.datetime.utcfromtimestamp(ts.time).replace(
            microsecond=ts.inc * 1000)
        ev["ns"] = SON([("db", self.db), ("coll", self.coll)])
        if doc_key is not None:
            ev["documentKey"] = doc_key
        for k, v in fields.items():
            ev[k] = v
        return ev

    # -- writes ----------------------------------------------------------
    def new_doc(self, _id=None):
        if _id is None:
            _id = self.next_id
            self.next_id += 1
        r = self.rng
        doc = {"_id": _id}
        if self.shard_key:
            doc["sk"] = "k%d" % (_id % 7)
        doc["v"] = r.randrange(1000)
        doc["name"] = "n%d" % r.randrange(100000)
        doc["sub"] = {"x": r.randrange(100), "y": "s%d" % r.randrange(100)}
        doc["arr"] = [r.randrange(100) for _ in range(r.randrange(1, 6))]
        if r.random() < 0.5:
            doc["opt"] = r.randrange(10)
        return doc

    def insert(self, doc=None):
        doc = doc or self.new_doc()
        self.docs[doc["_id"]] = doc
        return self.event("insert", self.key_of(doc), fullDocument=copy.deepcopy(doc))

    def replace(self, _id):
        old = self.docs[_id]
        doc = self.new_doc(_id)
        if self.shard_key:
            doc["sk"] = old["sk"]
        self.docs[_id] = doc
        return self.event("replace", self.key_of(doc), fullDocument=copy.deepcopy(doc))

    def delete(self, _id):
        doc = self.docs.pop(_id)
        return self.event("delete", self.key_of(doc))

    def update(self, _id, with_full=False):
        """A random update described as MongoDB would; applies it to the
        truth. with_full adds the post-image as fullDocument (updateLookup
        that found the document as it was right after the write)."""
        r = self.rng
        doc = self.docs[_id]
        updated = SON()
        removed = []
        truncated = []
        for _ in range(r.randrange(1, 4)):
            kind = r.randrange(8)
            if kind == 0:
                doc["v"] = r.randrange(1000)
                updated["v"] = doc["v"]
            elif kind == 1:
                doc["sub"]["x"] = r.randrange(100)
                updated["sub.x"] = doc["sub"]["x"]
            elif kind == 2:
                doc["sub"]["z"] = "z%d" % r.randrange(100)
                updated["sub.z"] = doc["sub"]["z"]
            elif kind == 3 and "opt" in doc and "opt" not in updated:
                del doc["opt"]
                removed.append("opt")
            elif kind == 3:
                doc["opt"] = r.randrange(10)
                updated["opt"] = doc["opt"]
                if "opt" in removed:
                    removed.remove("opt")
            elif kind == 4 and "y" in doc["sub"] and "sub.y" not in updated:
                del doc["sub"]["y"]
                removed.append("sub.y")
            elif kind == 5 and len(doc["arr"]) > 1 and not truncated and \
                    not any(k.startswith("arr.") for k in updated):
                size = r.randrange(1, len(doc["arr"]))
                doc["arr"] = doc["arr"][:size]
                truncated.append(SON([("field", "arr"), ("newSize", size)]))
                if r.random() < 0.5:
                    j = r.randrange(size)
                    doc["arr"][j] = r.randrange(100) + 1000
                    updated["arr.%d" % j] = doc["arr"][j]
            elif kind == 6 and not truncated:
                doc["arr"].append(r.randrange(100))
                updated["arr.%d" % (len(doc["arr"]) - 1)] = doc["arr"][-1]
            else:
                doc["name"] = "n%d" % r.randrange(100000)
                updated["name"] = doc["name"]
        # A field both removed and then set is just set.
        removed = [f for f in removed if f not in updated]
        desc = SON([("updatedFields", updated), ("removedFields", removed),
                    ("truncatedArrays", truncated)])
        fields = {"updateDescription": desc}
        if with_full:
            fields = {"fullDocument": copy.deepcopy(doc), "updateDescription": desc}
        return self.event("update", self.key_of(doc), **fields)

    def random_event(self, max_docs=500):
        r = self.rng
        live = list(self.docs) if len(self.docs) < 64 else None
        x = r.random()
        if not self.docs or (x < 0.25 and len(self.docs) < max_docs):
            if r.random() < 0.1 and self.next_id > 1:
                # Re-insert a deleted _id now and then.
                _id = r.randrange(1, self.next_id)
                if _id not in self.docs:
                    return self.insert(self.new_doc(_id))
            return self.insert()
        _id = r.choice(live) if live is not None else self.pick()
        if x < 0.35:
            return self.replace(_id)
        if x < 0.45:
            return self.delete(_id)
        return self.update(_id, with_full=r.random() < 0.2)

    def pick(self):
        # Random existing _id without building a list each time.
        while True:
            _id = self.rng.randrange(1, self.next_id)
            if _id in self.docs:
                return _id


def staged(ns, seq, ev, status="pending"):
    d = SON()
    d["ns"] = ns
    d["seq"] = Int64(seq)
    d["token"] = ev["_id"]
    # Later server fragments carry none of these: capture carries them over
    # from the first fragment; tests may leave them out.
    for f in ("clusterTime", "wallTime", "operationType"):
        if f in ev:
            d[f] = ev[f]
    d["event"] = ev
    d["status"] = status
    d["stagedAt"] = datetime.datetime.utcnow()
    return d


def raw(doc):
    """doc as RawBSONDocument: pymongo 3 refuses dotted keys (updatedFields
    has them) in inserted documents unless they are raw BSON."""
    return RawBSONDocument(bson.BSON.encode(doc))


def ensure_staging(client, db, staging="cdc"):
    c = client[db][staging]
    # REPLAY_STAGING_INDEXES=0 leaves them out (to tell a server's index
    # bug from a replay bug); cdc-capture always creates them.
    if os.environ.get("REPLAY_STAGING_INDEXES", "1") != "0":
        c.create_index([("ns", 1), ("status", 1), ("seq", 1)])
        c.create_index([("ns", 1), ("seq", 1)], unique=True)
    return c


def next_seq(client, db, ns, staging="cdc"):
    last = client[db][staging].find_one({"ns": ns}, sort=[("seq", -1)])
    return int(last["seq"]) + 1 if last else 1


def stage(client, db, ns, events, staging="cdc", first_seq=None, chunk=1000):
    """Stages events (in order) after the highest staged seq of ns; returns
    the seq of the last one."""
    c = ensure_staging(client, db, staging)
    seq = first_seq if first_seq is not None else next_seq(client, db, ns, staging)
    buf = []
    for ev in events:
        buf.append(raw(staged(ns, seq, ev)))
        seq += 1
        if len(buf) >= chunk:
            c.insert_many(buf, ordered=True)
            buf = []
    if buf:
        c.insert_many(buf, ordered=True)
    return seq - 1


def now_ts(ahead=1):
    """A cluster time past this moment: capture caught up with the source."""
    return Timestamp(int(time.time()) + ahead, 1)


def checkpoint(client, db, ns, cluster_time, heartbeat=None, staging="cdc", state="running",
               caught_up=None):
    """Writes capture's checkpoint for ns as cdc-capture would."""
    heartbeat = heartbeat or datetime.datetime.utcnow()
    fields = [("_id", "checkpoint:" + ns), ("ns", ns), ("token", {"_data": "00"}),
              ("clusterTime", cluster_time), ("heartbeatAt", heartbeat),
              ("lastSeq", Int64(0)), ("state", state)]
    if caught_up is not None:
        fields.append(("caughtUpAt", caught_up))
    client[db][staging + "_meta"].replace_one({"_id": "checkpoint:" + ns}, SON(fields),
                                              upsert=True)


def target_state(client, db, coll):
    return {d["_id"]: d for d in client[db][coll].find()}


def diff(expected, actual, limit=10):
    """Human-readable differences between two {_id: doc} maps; [] when equal."""
    out = []
    for k in expected:
        if k not in actual:
            out.append("missing %r: %r" % (k, expected[k]))
        elif expected[k] != actual[k]:
            out.append("different %r:\n  want %r\n  got  %r" % (k, expected[k], actual[k]))
    for k in actual:
        if k not in expected:
            out.append("extra %r: %r" % (k, actual[k]))
    return out[:limit]
