"""Helpers of test/database-mode.bats (database mode, docs/DESIGN.md "Flow").

usage: dbmode_util.py load URI DB N DOCS
       dbmode_util.py churn URI DB
       dbmode_util.py staged-once URI DB

load creates collections c00..c(N-1) holding DOCS documents each (_id
0..DOCS-1; DOCS 0: empty). churn is what happens to the collection list during the
migration: c_drop (loaded here, written to) is dropped, n_new1 and n_new2
are created by their first inserts and then updated and deleted in, c_ren is
renamed to c_ren2. staged-once checks that every namespace of DB.cdc has
each change event once (no resume token twice) and seqs 1..max without a
gap; prints "ok" and a summary, or why not (exit 1).
"""
import sys

import pymongo


def load(db, n, docs):
    for i in range(n):
        if docs == 0:
            db.create_collection("c%02d" % i)
            continue
        db["c%02d" % i].insert_many([{"_id": j, "v": j, "s": "x" * (j % 50)} for j in range(docs)])


def churn(db):
    db.c_drop.insert_many([{"_id": j} for j in range(20)])
    db.c_ren.insert_many([{"_id": j} for j in range(5)])
    for j in range(10):
        db.c_drop.update_one({"_id": j}, {"$set": {"w": 1}})
    db.n_new1.insert_many([{"_id": j, "v": j} for j in range(30)])
    db.c_drop.drop()
    db.n_new2.insert_one({"_id": "a", "v": 0})
    for j in range(10):
        db.n_new1.update_one({"_id": j}, {"$inc": {"v": 100}})
        db.n_new2.update_one({"_id": "a"}, {"$inc": {"v": 1}})
    db.n_new1.delete_many({"_id": {"$gte": 25}})
    db.c_ren.rename("c_ren2")


def staged_once(db):
    seen = {}
    for d in db.cdc.find({}, {"ns": 1, "seq": 1, "token": 1, "chunk": 1}).sort([("ns", 1), ("seq", 1)]):
        s = seen.setdefault(d["ns"], {"seqs": [], "tokens": set()})
        s["seqs"].append(d["seq"])
        key = (repr(d.get("token")), repr(d.get("chunk", {}).get("index")))
        if key in s["tokens"]:
            print("%s: event %s staged twice (seq %d)" % (d["ns"], d.get("token"), d["seq"]))
            return 1
        s["tokens"].add(key)
    for ns, s in seen.items():
        if s["seqs"] != list(range(1, len(s["seqs"]) + 1)):
            print("%s: seqs are not 1..%d without a gap" % (ns, len(s["seqs"])))
            return 1
    print("ok: %d namespaces, %d staged" % (len(seen), sum(len(s["seqs"]) for s in seen.values())))
    return 0


def main(argv):
    client = pymongo.MongoClient(argv[2], serverSelectionTimeoutMS=10000)
    db = client[argv[3]]
    if argv[1] == "load":
        load(db, int(argv[4]), int(argv[5]))
    elif argv[1] == "churn":
        churn(db)
    elif argv[1] == "staged-once":
        return staged_once(db)
    else:
        sys.stderr.write(__doc__)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
