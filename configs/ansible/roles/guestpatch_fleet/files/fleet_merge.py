#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""fleet_merge.py - merge the per-host reports of `vmm fleet run` into one.

    fleet_merge.py DIR HOST...

DIR is the run's directory on the controller; for each HOST (the fleet
inventory's host names, in rollout order) it reads

    DIR/hosts/HOST/report.jsonl   one JSON object per guest (vmm fleet run)
    DIR/hosts/HOST/status.json    what the role saw: the exit status of vmm,
                                  the outcome (done, failed-guests: done with
                                  guests failed within the host's threshold,
                                  halted, error), stderr

and writes

    DIR/fleet-report.jsonl        every guest's line, hosts in the order given
    DIR/fleet-summary.json        per host and overall: result counts, which
                                  hosts halted, failed or did not run, and any
                                  problem found in the reports
    DIR/fleet-report.txt          the same for people (also printed)

A host with no status.json did not run (the play stopped before it, or it
was unreachable). The reports come from the hosts and are not trusted:
sizes are capped, every line must be a JSON object naming this host and a
guest, results must be ones vmm reports, a guest may appear once; what
breaks a rule is left out of fleet-report.jsonl and named in "problems".
Exit status: 0 when the files were written, 1 on a usage or write error.
"""
import json
import os
import sys

VERSION = 1
RESULTS = ("applied", "nothing-to-apply", "no-patch-for-kernel", "transition-pending",
           "failed", "rolled-back", "skipped", "unreachable", "unhealthy")
OUTCOMES = ("done", "failed-guests", "halted", "error")
MAX_REPORT = 64 << 20        # bytes of one host's report.jsonl
MAX_LINE = 1 << 20           # bytes of one line
MAX_GUESTS = 100000          # lines of one host's report
MAX_STATUS = 4 << 20         # bytes of one status.json
MAX_PROBLEMS = 1000


def safe(text, limit=200):
    """Text from a host made safe for a terminal: control characters escaped."""
    text = str(text)
    out = []
    for ch in text[:limit]:
        if ch.isprintable():
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    if len(text) > limit:
        out.append("...")
    return "".join(out)


def host_name_ok(name):
    return (0 < len(name) <= 255 and name not in (".", "..") and "/" not in name
            and "\0" not in name)


def read_capped(path, cap):
    """The file's bytes, None if it is absent; ValueError if larger than cap."""
    try:
        with open(path, "rb") as f:
            data = f.read(cap + 1)
    except FileNotFoundError:
        return None
    if len(data) > cap:
        raise ValueError("larger than %d bytes" % cap)
    return data


class Merge:
    def __init__(self, hosts):
        self.hosts = hosts
        self.problems = []
        self.lines = []          # (host, dict) in order
        self.per_host = []

    def problem(self, host, what):
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append({"host": host, "problem": what})
        elif len(self.problems) == MAX_PROBLEMS:
            self.problems.append({"host": host, "problem": "more problems left out"})

    def read_status(self, host, d):
        try:
            data = read_capped(os.path.join(d, "status.json"), MAX_STATUS)
        except (OSError, ValueError) as e:
            self.problem(host, "status.json: %s" % e)
            return {"outcome": "error"}
        if data is None:
            return None
        try:
            st = json.loads(data)
        except ValueError as e:
            self.problem(host, "status.json: not JSON: %s" % e)
            return {"outcome": "error"}
        if not isinstance(st, dict):
            self.problem(host, "status.json: not an object")
            return {"outcome": "error"}
        if st.get("outcome") not in OUTCOMES:
            self.problem(host, "status.json: outcome %s unknown" % safe(st.get("outcome")))
            st["outcome"] = "error"
        return st

    def read_report(self, host, d, seen):
        """Guest lines of one host; returns (count kept, result counts, present)."""
        counts = {}
        kept = 0
        try:
            data = read_capped(os.path.join(d, "report.jsonl"), MAX_REPORT)
        except (OSError, ValueError) as e:
            self.problem(host, "report.jsonl: %s" % e)
            return 0, counts, False
        if data is None:
            return 0, counts, False
        for n, raw in enumerate(data.split(b"\n"), 1):
            if not raw.strip():
                continue
            if n > MAX_GUESTS:
                self.problem(host, "report.jsonl: more than %d lines, the rest left out" % MAX_GUESTS)
                break
            where = "report.jsonl line %d" % n
            if len(raw) > MAX_LINE:
                self.problem(host, "%s: longer than %d bytes" % (where, MAX_LINE))
                continue
            try:
                g = json.loads(raw)
            except ValueError as e:
                self.problem(host, "%s: not JSON: %s" % (where, safe(e)))
                continue
            if not isinstance(g, dict):
                self.problem(host, "%s: not an object" % where)
                continue
            guest, gh, result = g.get("guest"), g.get("host"), g.get("result")
            if not isinstance(guest, str) or not guest:
                self.problem(host, "%s: no guest name" % where)
                continue
            if gh != host:
                self.problem(host, "%s: guest %s is reported for host %s, not this one"
                             % (where, safe(guest), safe(gh)))
                continue
            if result not in RESULTS:
                self.problem(host, "%s: guest %s: result %s unknown"
                             % (where, safe(guest), safe(result)))
                continue
            if (host, guest) in seen:
                self.problem(host, "%s: guest %s reported twice" % (where, safe(guest)))
                continue
            seen.add((host, guest))
            counts[result] = counts.get(result, 0) + 1
            kept += 1
            self.lines.append((host, g))
        return kept, counts, True

    def run(self, top):
        seen = set()
        for host in self.hosts:
            d = os.path.join(top, "hosts", host)
            st = self.read_status(host, d)
            kept, counts, present = self.read_report(host, d, seen)
            if st is None:
                outcome = "not-run"
                if present:
                    self.problem(host, "a report but no status: the role did not finish here")
            else:
                outcome = st["outcome"]
                if not present:
                    self.problem(host, "ran (%s) but left no report.jsonl" % outcome)
            entry = {"host": host, "outcome": outcome, "report": present,
                     "guests": kept, "results": dict(sorted(counts.items()))}
            if st is not None:
                for k in ("rc", "action", "start", "end", "stderr", "fleet_status"):
                    if k in st:
                        entry[k] = st[k]
            self.per_host.append(entry)

    def summary(self, run_id):
        totals = {}
        for _, g in self.lines:
            totals[g["result"]] = totals.get(g["result"], 0) + 1
        by = {o: [h["host"] for h in self.per_host if h["outcome"] == o]
              for o in ("done", "failed-guests", "halted", "error", "not-run")}
        return {
            "version": VERSION,
            "run": run_id,
            "hosts": self.per_host,
            "guests": len(self.lines),
            "results": dict(sorted(totals.items())),
            "done": by["done"] + by["failed-guests"],
            "with_failed_guests": by["failed-guests"],
            "halted": by["halted"],
            "failed": by["error"],
            "not_run": by["not-run"],
            "problems": self.problems,
            "ok": not (by["halted"] or by["error"] or by["not-run"] or self.problems),
        }

    def table(self, s):
        rows = [("HOST", "GUEST", "RING", "BATCH", "RESULT", "APPLIED", "ERROR")]
        for host, g in self.lines:
            applied = g.get("applied")
            if isinstance(applied, list):
                applied = ",".join(str(a) for a in applied)
            rows.append((host, g["guest"], g.get("ring", ""), g.get("batch", ""),
                         g["result"], applied or "-", g.get("error") or ""))
        rows = [tuple(safe("" if c is None else c, 60) for c in r) for r in rows]
        width = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        out = ["  ".join(c.ljust(width[i]) for i, c in enumerate(r)).rstrip() for r in rows]
        out.append("")
        out.append("%-20s %-13s %6s  %s" % ("HOST", "OUTCOME", "GUESTS", "RESULTS"))
        for h in s["hosts"]:
            res = " ".join("%s=%d" % kv for kv in h["results"].items()) or "-"
            out.append("%-20s %-13s %6d  %s" % (safe(h["host"], 20), h["outcome"],
                                               h["guests"], res))
        res = " ".join("%s=%d" % kv for kv in s["results"].items()) or "-"
        out.append("fleet: %d hosts, %d guests: %s" % (len(s["hosts"]), s["guests"], res))
        for key, label in (("halted", "halted"), ("failed", "failed (vmm error)"),
                           ("not_run", "did not run")):
            if s[key]:
                out.append("hosts %s: %s" % (label, ", ".join(safe(h) for h in s[key])))
        for h in s["hosts"]:
            fs = h.get("fleet_status")
            if h["outcome"] == "halted" and isinstance(fs, dict) and fs.get("halt_reason"):
                out.append("%s halted: %s" % (safe(h["host"]), safe(fs["halt_reason"], 300)))
        for p in s["problems"]:
            out.append("problem: %s: %s" % (safe(p["host"]), safe(p["problem"], 300)))
        if s["ok"] and s["with_failed_guests"]:
            verdict = "ok: every host finished; with guests failed (vmm exit 1): %s" % (
                ", ".join(safe(h) for h in s["with_failed_guests"]))
        elif s["ok"]:
            verdict = "ok: every host done"
        elif s["not_run"] and not (s["halted"] or s["failed"] or s["problems"]):
            verdict = "incomplete: %d hosts have not run (yet)" % len(s["not_run"])
        else:
            verdict = "NOT OK"
        out.append("verdict: %s" % verdict)
        return "\n".join(out) + "\n"


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv):
    if len(argv) < 2 or argv[0] in ("-h", "--help"):
        sys.stderr.write("usage: fleet_merge.py DIR HOST...\n")
        return 1
    top, hosts = argv[0], argv[1:]
    for h in hosts:
        if not host_name_ok(h):
            sys.stderr.write("fleet_merge: host name %s cannot name a directory\n" % safe(h))
            return 1
    if len(set(hosts)) != len(hosts):
        sys.stderr.write("fleet_merge: a host is named twice\n")
        return 1
    m = Merge(hosts)
    m.run(top)
    s = m.summary(os.path.basename(os.path.normpath(top)))
    try:
        write_atomic(os.path.join(top, "fleet-report.jsonl"),
                     "".join(json.dumps(g, sort_keys=True) + "\n" for _, g in m.lines))
        write_atomic(os.path.join(top, "fleet-summary.json"),
                     json.dumps(s, indent=2, sort_keys=True) + "\n")
        text = m.table(s)
        write_atomic(os.path.join(top, "fleet-report.txt"), text)
    except OSError as e:
        sys.stderr.write("fleet_merge: %s\n" % e)
        return 1
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
