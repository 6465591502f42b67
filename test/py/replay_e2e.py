"""End-to-end convergence with the source's real change events.

usage: replay_e2e.py SRC_URI TGT_URI DB OPS FULL_DOCUMENT [cdc-replay args]

Fills SRC DB.c, notes the source time, starts the reference stager
(replay_stage.py) from it, runs OPS random writes on the source while a
"dump" copies the documents to the target one at a time (no snapshot: the
catch-up window), then runs cdc-replay --drain while the stager keeps
following, as at cutover. Exits with cdc-replay's status; cdc-verify is
left to the caller.
"""

import os
import random
import subprocess
import sys
import threading
import time

import pymongo


def workload(coll, rng, ops, next_id):
    for _ in range(ops):
        x = rng.random()
        _id = rng.randrange(1, next_id[0])
        if x < 0.15:
            coll.insert_one({"_id": next_id[0], "v": 0, "sub": {"x": 1}, "arr": [1, 2, 3]})
            next_id[0] += 1
        elif x < 0.25:
            coll.replace_one({"_id": _id}, {"v": rng.randrange(100), "arr": [9, 8, 7, 6]})
        elif x < 0.32:
            coll.delete_one({"_id": _id})
        elif x < 0.5:
            coll.update_one({"_id": _id}, {"$set": {"sub.x": rng.randrange(100), "v": x}})
        elif x < 0.6:
            coll.update_one({"_id": _id}, {"$unset": {"sub": ""}})
        elif x < 0.7:
            coll.update_one({"_id": _id},
                            {"$push": {"arr": {"$each": [], "$slice": rng.randrange(1, 3)}}})
        elif x < 0.8:
            coll.update_one({"_id": _id}, {"$push": {"arr": rng.randrange(100)}})
        elif x < 0.9:
            coll.update_one({"_id": _id}, {"$set": {"name": "n%d" % rng.randrange(1000)}})
        else:
            coll.update_one({"_id": _id}, {"$inc": {"v": 1}, "$set": {"sub.y": "y"}})


def main():
    src_uri, tgt_uri, db, ops, full_document = sys.argv[1:6]
    replay_args = sys.argv[6:]
    src = pymongo.MongoClient(src_uri, serverSelectionTimeoutMS=10000)
    tgt = pymongo.MongoClient(tgt_uri, serverSelectionTimeoutMS=10000)
    coll = src[db]["c"]
    coll.insert_many([{"_id": i, "v": i, "sub": {"x": i}, "arr": [i, i + 1]}
                      for i in range(1, 301)])
    start = src.admin.command("ping")["operationTime"]
    here = os.path.dirname(os.path.abspath(__file__))
    stager = subprocess.Popen(
        [sys.executable, os.path.join(here, "replay_stage.py"), src_uri, tgt_uri, db, "c",
         str(start.time), str(start.inc), "60", full_document])
    next_id = [301]
    writer = threading.Thread(target=workload,
                              args=(coll, random.Random(11), int(ops), next_id))
    writer.start()
    # The dump: one document at a time while the writes go on.
    for doc in src[db]["c"].find(batch_size=10):
        tgt[db]["c"].replace_one({"_id": doc["_id"]}, doc, upsert=True)
        time.sleep(0.001)
    writer.join()
    # Cutover: writes have stopped; drain while capture (the stager) runs.
    env = dict(os.environ, TARGET_URI=tgt_uri)
    r = subprocess.run(["cdc-replay", "--db", db, "--coll", "c", "--drain",
                        "--status-interval", "0"] + replay_args, env=env, timeout=120)
    stager.terminate()
    stager.wait(timeout=30)
    sys.exit(r.returncode)


if __name__ == "__main__":
    main()
