#!/usr/bin/python3
"""Usage: func_length.py [--max N] [--top K] FILE...

Prints every C function of FILE... longer than N lines (default 80) as
"file:line: name: L lines" and exits 1 when there is one; with --top K,
prints the K longest instead and exits 0. A function is a line that starts
in column 0 with a name and '(' followed, at column 0, by '{' ... '}'. The
option switch of a main() is exempt: main's length is counted without its
getopt loop (from the 'while ((opt = getopt_long' line to its closing brace).
"""
import re
import sys

NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def functions(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        m = NAME.match(lines[i])
        if not m or lines[i].rstrip().endswith(";"):
            i += 1
            continue
        j = i
        while j < len(lines) and lines[j] != "{" and not lines[j].rstrip().endswith(";"):
            j += 1
        if j >= len(lines) or lines[j] != "{":
            i += 1
            continue
        k = j + 1
        while k < len(lines) and lines[k] != "}":
            k += 1
        length = k - i + 1
        if m.group(1) == "main":
            length -= getopt_loop(lines, j, k)
        yield m.group(1), i + 1, length
        i = k + 1


def getopt_loop(lines, start, end):
    """Lines of main's option loop, whose switch the rule exempts."""
    for a in range(start, end):
        if "getopt_long(" in lines[a] and lines[a].lstrip().startswith("while"):
            indent = len(lines[a]) - len(lines[a].lstrip())
            for b in range(a + 1, end):
                s = lines[b]
                if s.strip() == "}" and len(s) - len(s.lstrip()) == indent:
                    return b - a + 1
    return 0


def main(argv):
    limit, top, files = 80, 0, []
    args = iter(argv)
    for a in args:
        if a == "--max":
            limit = int(next(args))
        elif a == "--top":
            top = int(next(args))
        else:
            files.append(a)
    found = [(n, p, ln, name) for p in files for name, ln, n in functions(p)]
    if top:
        for n, p, ln, name in sorted(found, reverse=True)[:top]:
            print(f"{p}:{ln}: {name}: {n} lines")
        return 0
    long_ones = [(p, ln, name, n) for n, p, ln, name in found if n > limit]
    for p, ln, name, n in long_ones:
        print(f"{p}:{ln}: {name}: {n} lines (more than {limit})")
    return 1 if long_ones else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
