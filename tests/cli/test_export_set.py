"""pw-transcribe export of several journals and directories (stdlib only).

Journals are placed on one timeline that starts when the first one
started: each is shifted by the time between the header's starts, a tap's
journals never overlap (the header has whole seconds), the time between
two of a tap is a gap "between journals", and with several taps every
entry is labelled with its tap. Checked byte for byte on small sets, then
against a model on random sets (journal counts, taps, starts, sizes and
the order of the arguments vary), and the README's glob example is run as
written.

Environment: CLI (the pw-transcribe executable).
"""

import json
import os
import random
import re
import subprocess
import time
import unittest
from pathlib import Path

from test_export import CLI, ExportTest, final, gap, jline, parse_srt, parse_vtt

README = Path(__file__).resolve().parents[2] / "README.md"
GAP = "between journals"


def header(tap, started, session="s1"):
    return {"type": "header", "version": 1, "tap": tap, "session_id": session,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "rate": 16000}


def stamp(started):
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))


T0 = 1796290200     # 2026-12-03T09:30:00Z


class SetTest(ExportTest):
    def write(self, tap, started, *objs, session="s1", with_header=True, name=None, where=None):
        """A journal named as the module names it, in where (default tmp)."""
        d = where or self.tmp
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, name or "%s-%s-%s.jsonl" % (tap, stamp(started), session))
        lines = ([jline(header(tap, started, session))] if with_header else [])
        with open(path, "w") as f:
            f.write("".join(lines + [jline(o) for o in objs]))
        return path

    def run_export(self, *args):
        code, out, err = self.export(*args)
        self.assertEqual((code, err), (0, ""))
        return out


class TimelineTest(SetTest):
    def test_journals_of_a_tap_make_one_timeline_with_a_gap_between(self):
        a = self.write("captions", T0, final(1, 500, 2000, "one"), final(2, 2500, 4000, "two"),
                       {"type": "state", "at_ms": 5000, "state": "stopped", "error": ""},
                       session="a")
        b = self.write("captions", T0 + 10, final(1, 300, 1500, "three"), session="b")
        expected = ("[00:00:00.5] one\n"
                    "[00:00:02.5] two\n"
                    "[00:00:05.0] [gap: 5.0 s, between journals]\n"
                    "[00:00:10.3] three\n")
        # in time order whatever the order of the arguments
        self.assertEqual(self.run_export(b, a), expected)
        self.assertEqual(self.run_export(a, b), expected)
        out = json.loads(self.run_export(b, a, "--format", "json"))
        self.assertEqual([(o.get("seq"), o["start_ms"], o["end_ms"], o["tap"]) for o in out],
                         [(1, 500, 2000, "captions"), (2, 2500, 4000, "captions"),
                          (None, 5000, 10000, "captions"), (1, 10300, 11500, "captions")])
        self.assertEqual(out[2], {"type": "gap", "start_ms": 5000, "end_ms": 10000,
                                  "reason": GAP, "tap": "captions"})

    def test_a_journal_never_starts_before_the_tap_s_previous_one_ended(self):
        # the second header says 1 s after the first, which ran 1.8 s:
        # whole seconds in the header, so it starts where the first ended
        a = self.write("t", T0, final(1, 0, 1800, "first"), session="a")
        b = self.write("t", T0 + 1, final(1, 0, 500, "second"), session="b")
        self.assertEqual(self.run_export(a, b), "[00:00:00.0] first\n[00:00:01.8] second\n")

    def test_seq_numbers_are_per_journal(self):
        a = self.write("t", T0, final(1, 0, 1000, "a one"), final(1, 0, 1000, "dup"),
                       session="a")
        b = self.write("t", T0 + 2, final(1, 0, 1000, "b one"), session="b")
        self.assertEqual(self.run_export(a, b),
                         "[00:00:00.0] a one\n[00:00:01.0] [gap: 1.0 s, between journals]\n"
                         "[00:00:02.0] b one\n")

    def test_without_a_header_the_file_name_places_the_journal(self):
        a = self.write("t", T0, final(1, 0, 1000, "named"), with_header=False, session="a")
        b = self.write("t", T0 - 60, final(1, 0, 1000, "earlier"), session="b")
        self.assertEqual(self.run_export(a, b),
                         "[00:00:00.0] earlier\n[00:00:01.0] [gap: 59.0 s, between journals]\n"
                         "[00:01:00.0] named\n")

    def test_a_journal_of_unknown_start_follows_the_others(self):
        a = self.write("t", T0, final(1, 0, 1000, "unknown start"), with_header=False,
                       name="renamed.jsonl")
        b = self.write("t", T0, final(1, 0, 2000, "known start"), session="b")
        self.assertEqual(self.run_export(a, b),
                         "[00:00:00.0] known start\n[00:00:02.0] unknown start\n")


class SeveralTapsTest(SetTest):
    def journals(self):
        return (self.write("browser", T0, final(1, 0, 2000, "Hello from the call."),
                           final(2, 4000, 5000, "Bye."), session="b"),
                self.write("mic", T0 + 1, final(1, 1000, 1800, "Hi there.", speaker="1"),
                           gap(2000, 2500, "ring overflow"), session="m"))

    def test_taps_interleave_in_time_and_every_line_names_its_tap(self):
        b, m = self.journals()
        self.assertEqual(self.run_export(m, b),
                         "[00:00:00.0] browser: Hello from the call.\n"
                         "[00:00:02.0] mic/1: Hi there.\n"
                         "[00:00:03.0] mic: [gap: 0.5 s, ring overflow]\n"
                         "[00:00:04.0] browser: Bye.\n")
        cues = parse_srt(self.run_export(m, b, "--format", "srt"))
        self.assertEqual([c[2] for c in cues], [["browser: Hello from the call."],
                                                ["mic/1: Hi there."], ["browser: Bye."]])
        self.assertEqual([c[2] for c in parse_vtt(self.run_export(b, m, "--format", "vtt"))],
                         [c[2] for c in cues])
        out = json.loads(self.run_export(m, b, "--format", "json"))
        self.assertEqual([(o["tap"], o.get("speaker")) for o in out],
                         [("browser", ""), ("mic", "1"), ("mic", None), ("browser", "")])

    def test_one_tap_alone_is_not_labelled(self):
        b, _ = self.journals()
        self.assertEqual(self.run_export(b),
                         "[00:00:00.0] Hello from the call.\n[00:00:04.0] Bye.\n")


class DirectoryTest(SetTest):
    def test_a_directory_stands_for_its_journals(self):
        d = os.path.join(self.tmp, "state")
        a = self.write("t", T0, final(1, 0, 1000, "one"), session="a", where=d)
        self.write("t", T0 + 5, final(1, 0, 1000, "two"), session="b", where=d)
        for name in ("notes.txt", ".hidden.jsonl", "partial.jsonl.tmp"):
            with open(os.path.join(d, name), "w") as f:
                f.write("garbage\n")
        os.mkdir(os.path.join(d, "sub.jsonl"))
        expected = ("[00:00:00.0] one\n[00:00:01.0] [gap: 4.0 s, between journals]\n"
                    "[00:00:05.0] two\n")
        self.assertEqual(self.run_export(d), expected)
        # a journal named again (the directory and a glob) counts once
        self.assertEqual(self.run_export(d, a, d + "/"), expected)

    def test_what_can_be_read_is_exported_and_the_rest_reported(self):
        a = self.write("t", T0, final(1, 0, 1000, "kept"), session="a")
        missing = os.path.join(self.tmp, "missing.jsonl")
        empty = os.path.join(self.tmp, "empty")
        os.mkdir(empty)
        out_path = os.path.join(self.tmp, "out.txt")
        code, out, err = self.export(missing, a, empty, "-o", out_path)
        self.assertEqual((code, out), (1, ""))
        self.assertEqual(err.splitlines(),
                         ["pw-transcribe: %s: No such file or directory" % missing,
                          "pw-transcribe: %s: no journals (*.jsonl) in it" % empty])
        with open(out_path) as f:
            self.assertEqual(f.read(), "[00:00:00.0] kept\n")

    def test_nothing_readable_writes_nothing(self):
        out_path = os.path.join(self.tmp, "out.txt")
        missing = os.path.join(self.tmp, "missing.jsonl")
        self.assertEqual(self.export(missing, "-o", out_path),
                         (1, "", "pw-transcribe: %s: No such file or directory\n" % missing))
        self.assertFalse(os.path.exists(out_path))

    def test_the_readme_glob_example_works_as_written(self):
        cmd = [l.strip() for l in README.read_text().splitlines()
               if l.strip().startswith("pw-transcribe export ~/")]
        self.assertEqual(len(cmd), 1, "the README's export example")
        d = os.path.join(self.tmp, ".local/state/pipewire-transcribe")
        self.write("captions", T0, final(1, 0, 1000, "First."), session="a", where=d)
        self.write("captions", T0 + 3, final(1, 0, 1000, "Second."), session="b", where=d)
        self.write("browser", T0, final(1, 0, 1000, "Not this tap."), session="c", where=d)
        env = dict(self.env)
        if os.sep in CLI:       # a built one, else the installed one on PATH
            env["PATH"] = "%s:%s" % (os.path.dirname(os.path.abspath(CLI)),
                                     env.get("PATH", "/usr/bin:/bin"))
        r = subprocess.run(["sh", "-c", cmd[0]], cwd=self.tmp, env=env, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        out_file = re.search(r"-o (\S+)", cmd[0]).group(1)
        with open(os.path.join(self.tmp, out_file)) as f:
            self.assertEqual([c[2] for c in parse_srt(f.read())], [["First."], ["Second."]])


class ModelTest(SetTest):
    """Random sets against a model of the rules in cli-export.h."""

    def model(self, journals):
        """journals: [(tap, started or None, end_ms, [(start, end, text)])] ->
        expected [(start, tap, text)] of the finals and the gaps."""
        order = sorted(range(len(journals)),
                       key=lambda k: (journals[k][1] is None, journals[k][1] or 0, k))
        origin = journals[order[0]][1]
        placed, rows = [], []
        for k in order:
            tap, started, end, finals = journals[k]
            prev = max([o + e for t, o, e in placed if t == tap], default=None)
            if started is not None:
                at = (started - origin) * 1000
            else:
                _, o, e = placed[-1] if placed else (None, 0, 0)
                at = o + e
            if prev is not None and at < prev:
                at = prev
            if prev is not None and at > prev:
                rows.append((prev, tap, "gap"))
            placed.append((tap, at, end))
            rows += [(at + s, tap, text) for s, _, text in finals]
        return rows

    def test_random_sets_follow_the_rules(self):
        for seed in range(12):
            with self.subTest(seed=seed):
                rnd = random.Random(seed)
                d = os.path.join(self.tmp, "set%d" % seed)
                journals, paths = [], []
                n = rnd.randint(1, 7)
                # distinct starts: the order of equal ones is the arguments'
                for k, started in enumerate(rnd.sample(range(T0, T0 + 400), n)):
                    tap = rnd.choice(["a", "b", "c"][:rnd.randint(1, 3)])
                    finals, t = [], rnd.randint(0, 3000)
                    for seq in range(1, rnd.randint(0, 30) + 1):
                        dur = rnd.choice([0, 300, 2000, 9000])
                        finals.append((t, t + dur, "j%d-%d" % (k, seq)))
                        t += dur + rnd.randint(0, 1500)
                    end = max([e for _, e, _ in finals], default=0) + rnd.choice([0, 700])
                    objs = [final(i + 1, s, e, x) for i, (s, e, x) in enumerate(finals)]
                    objs.append({"type": "state", "at_ms": end, "state": "stopped", "error": ""})
                    rnd.shuffle(objs)
                    paths.append(self.write(tap, started, *objs, session="s%d" % k, where=d))
                    journals.append((tap, started, end, finals))
                rnd.shuffle(paths)
                out = json.loads(self.run_export(*(paths if rnd.random() < 0.5 else [d]),
                                                 "--format", "json"))
                got = [(o["start_ms"], o["tap"], o.get("text", "gap")) for o in out]
                self.assertEqual(sorted(got), sorted(self.model(journals)))
                self.assertEqual([g[0] for g in got], sorted(g[0] for g in got))


if __name__ == "__main__":
    unittest.main(verbosity=2)
