"""Look at the staging collection on the target (docs/DESIGN.md, "Staged events").

usage: e2e_stage.py URI DB NS count [STATUS]
       e2e_stage.py URI DB NS wait-above N [STATUS] [TIMEOUT_S]
       e2e_stage.py URI DB NS first-token

count prints how many staged documents of NS (with STATUS: pending|done|any)
there are; wait-above polls until there are more than N (exit 1 at the
deadline, default 30 s); first-token prints the resume token of seq 1 as
canonical extended JSON. The staging collection is DB.cdc unless
E2E_STAGING names another.
"""
import os
import sys
import time

import pymongo
from bson import json_util


def query(ns, status):
    q = {"ns": ns}
    if status and status != "any":
        q["status"] = status
    return q


def main(argv):
    if len(argv) < 5:
        sys.stderr.write(__doc__)
        return 64
    uri, db, ns, cmd = argv[1:5]
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=10000)
    staged = client[db][os.environ.get("E2E_STAGING", "cdc")]
    if cmd == "count":
        status = argv[5] if len(argv) > 5 else "any"
        print(staged.count_documents(query(ns, status)))
        return 0
    if cmd == "wait-above":
        n = int(argv[5])
        status = argv[6] if len(argv) > 6 else "any"
        deadline = time.monotonic() + (float(argv[7]) if len(argv) > 7 else 30.0)
        while True:
            got = staged.count_documents(query(ns, status))
            if got > n:
                print(got)
                return 0
            if time.monotonic() > deadline:
                sys.stderr.write("%s: %d staged (%s), waited for more than %d\n"
                                 % (ns, got, status, n))
                return 1
            time.sleep(0.2)
    if cmd == "first-token":
        doc = staged.find_one({"ns": ns, "seq": 1})
        if not doc:
            return 1
        print(json_util.dumps(doc["token"], json_options=json_util.CANONICAL_JSON_OPTIONS))
        return 0
    sys.stderr.write(__doc__)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))
