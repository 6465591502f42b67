"""Reference stager for cdc-replay end-to-end tests: what cdc-capture does,
in a few lines of pymongo, so replay can be tested against the source's
real change events without depending on cdc-capture.

usage: replay_stage.py SRC_URI TGT_URI DB COLL START_T START_I IDLE_S [FULL_DOCUMENT]

Watches SRC DB.COLL from cluster time (START_T, START_I) inclusive, stages
every event into TGT DB.cdc (lib/staging_format.h), and keeps the capture
checkpoint "checkpoint:DB.COLL" in DB.cdc_meta. While idle it keeps the
checkpoint's clusterTime at the source's current time (capture caught up),
as cdc-capture does; it exits 0 once no event came for IDLE_S seconds. FULL_DOCUMENT: default
(updates carry updateDescription only) or updateLookup.
"""

import datetime
import sys
import time

import pymongo
from bson.codec_options import CodecOptions
from bson.int64 import Int64
from bson.son import SON
from bson.timestamp import Timestamp

import replay_events as rev


def main():
    src_uri, tgt_uri, db, coll, start_t, start_i, idle_s = sys.argv[1:8]
    full_document = sys.argv[8] if len(sys.argv) > 8 else "default"
    opts = CodecOptions(document_class=SON, tz_aware=False)
    src = pymongo.MongoClient(src_uri, serverSelectionTimeoutMS=10000)
    tgt = pymongo.MongoClient(tgt_uri, serverSelectionTimeoutMS=10000)
    ns = "%s.%s" % (db, coll)
    staging = rev.ensure_staging(tgt, db)
    seq = rev.next_seq(tgt, db, ns)
    buf = []
    last_ct = Timestamp(int(start_t), int(start_i))
    last_event = time.time()
    last_idle_cp = 0.0
    watch_coll = src[db].get_collection(coll, codec_options=opts)
    # The stream's own session: its operation_time is that of the last
    # getMore reply, the point an empty batch has read up to.
    session = src.start_session(causal_consistency=False)
    with watch_coll.watch(start_at_operation_time=last_ct, full_document=full_document,
                          max_await_time_ms=100, session=session) as stream:
        while True:
            ev = stream.try_next()
            if ev is not None:
                buf.append(rev.raw(rev.staged(ns, seq, ev)))
                seq += 1
                last_ct = ev["clusterTime"]
                last_event = time.time()
                if len(buf) < 500:
                    continue
            if buf:
                staging.insert_many(buf, ordered=True)
                buf = []
                write_checkpoint(tgt, db, ns, last_ct, seq - 1)
            if ev is None:
                # Idle: the source had nothing newer when it answered the
                # empty getMore, so capture's position is that reply's
                # operationTime, as cdc-capture takes it. (A ping sent now
                # would be later than what the getMore read: a write in
                # between would be counted as staged without being so.)
                now = session.operation_time
                if now is not None and now > last_ct:
                    last_ct = now
                if time.time() - last_idle_cp > 0.3:
                    write_checkpoint(tgt, db, ns, last_ct, seq - 1)
                    last_idle_cp = time.time()
                if time.time() - last_event > float(idle_s):
                    break
    print("staged %d events" % (seq - 1))


def write_checkpoint(tgt, db, ns, ct, last_seq):
    tgt[db]["cdc_meta"].replace_one(
        {"_id": "checkpoint:" + ns},
        SON([("_id", "checkpoint:" + ns), ("ns", ns), ("token", {"_data": "00"}),
             ("clusterTime", ct), ("heartbeatAt", datetime.datetime.utcnow()),
             ("lastSeq", Int64(last_seq)), ("state", "running")]),
        upsert=True)


if __name__ == "__main__":
    main()
