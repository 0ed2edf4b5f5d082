#!/usr/bin/env python3
"""kcheck.py MODE PRODOUT TAG KEYS FILE: a compacted partition written by
rdk_check kidem / kafkajs_idem.js KEYS (their report in PRODOUT) checked as
Kafka promises: MODE dump (FILE: rdk_check dump's output) or mount (FILE: the
partition file, key.separator=:, line.format=escape)."""
import os, sys

mode, prodout, tag, keys, path = sys.argv[1:6]
keys = int(keys)
lines = open(prodout).read().split("\n")
assert lines[0].split()[0] in ("kidem", "idem"), lines[0]
recs = {}  # offset -> i
for ln in lines[1:]:
    if ln.strip():
        o, i = ln.split()
        recs[int(o)] = int(i)
def kv(i):
    k = b"%s-k%d" % (tag.encode(), i % keys)
    if i % 7 == 6:
        return k, None
    v = b"%s-v%d" % (tag.encode(), i)
    if i % 5 == 4:
        v += b"\n\x01\xff"
    return k, v
def line(i):
    k, v = kv(i)
    if v is None:
        return k + b":\n"
    if b"\n" in v:
        return b"\\" + k + b":" + v.replace(b"\n", b"\\n").replace(b"\x01", b"\\x01") + b"\n"
    return k + b":" + v + b"\n"
offs = sorted(recs)
assert offs == list(range(offs[0], offs[0] + len(offs))), "offsets not consecutive"
newest = {}
for o in offs:
    newest[kv(recs[o])[0]] = o
errs = []
if mode == "dump":
    got = []
    for ln in open(path).read().split("\n"):
        if not ln:
            continue
        o, k, v = ln.split(" ")
        o = int(o)
        k = bytes.fromhex(k) if k != "-" else None
        v = None if v == "NULL" else (b"" if v == "=" else bytes.fromhex(v))
        if o not in recs:
            errs.append("offset %d: not a record written" % o)
        elif kv(recs[o]) != (k, v):
            errs.append("offset %d: %r/%r, written %r" % (o, k, v, kv(recs[o])))
        got.append((o, k))
    present = {o for o, _ in got}
    keys_seen = {k for _, k in got}
    for k, o in newest.items():
        tomb = kv(recs[o])[1] is None
        if o in present:
            continue
        if tomb and k not in keys_seen:
            continue  # tombstone removed past delete.retention.ms, with every value of its key
        errs.append("key %r: newest (offset %d%s) missing; %s" % (k, o, " tombstone" if tomb else "",
                    [x for x, kk in got if kk == k][-3:]))
    print("dump: %d records, %d keys, %d errors" % (len(got), len(keys_seen), len(errs)))
else:
    pos = {}
    p = 0
    for o in offs:
        pos[o] = p
        p += len(line(recs[o]))
    data = open(path, "rb").read()
    mlines = [l + b"\n" for l in data.split(b"\n")[:-1]]
    # each line is a written record's line, in offset order
    j = 0
    at = {}
    for ml in mlines:
        while j < len(offs) and line(recs[offs[j]]) != ml:
            j += 1
        if j == len(offs):
            errs.append("line %r: not a record written, in order" % ml)
            break
        at[offs[j]] = ml
        j += 1
    fd = os.open(path, os.O_RDONLY)
    keyof = lambda ml: ml.lstrip(b"\\").split(b":")[0]
    seen = {keyof(ml) for ml in mlines}
    for k, o in newest.items():
        l = line(recs[o])
        if os.pread(fd, len(l), pos[o]) == l:
            continue
        if kv(recs[o])[1] is None and k not in seen:
            continue
        errs.append("key %r: newest line (offset %d, position %d) not there: %r" %
                    (k, o, pos[o], os.pread(fd, len(l), pos[o])))
    print("mount: %d lines, size %d, %d errors" % (len(mlines), len(data), len(errs)))
for e in errs[:10]:
    print("  " + e)
sys.exit(1 if errs else 0)
