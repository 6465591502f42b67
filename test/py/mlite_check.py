"""What the mongod-lite checks (mlcore_cases.py, mlstream_cases.py) share.

fail, check and eq end a case at its first difference with exit 1 and a
message naming the lines of the case file that led there; client_for is a
pymongo client that gives up on server selection after 10 s.
"""
import os
import sys
import traceback

import pymongo


def fail(msg):
    """Exits 1 with "FAIL (line N<M...): msg", innermost line first."""
    case_file = os.path.abspath(sys.argv[0])
    lines = [str(f.lineno) for f in traceback.extract_stack()
             if os.path.abspath(f.filename) == case_file and f.name != "<module>"]
    sys.stderr.write("FAIL (line %s): %s\n" % ("<".join(reversed(lines)), msg))
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def eq(got, want, what):
    if got != want:
        fail("%s: got %r, want %r" % (what, got, want))


def client_for(uri, **kw):
    kw.setdefault("serverSelectionTimeoutMS", 10000)
    return pymongo.MongoClient(uri, **kw)
