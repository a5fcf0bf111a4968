#!/usr/bin/env python3
"""The crash-safe journal for real: the module in a private PipeWire
streams tone words to tests/faults/fault-server and journals every final
segment under $XDG_STATE_HOME/pipewire-transcribe (the fixture's own).
A fault costs the journal nothing, SIGKILL of the process holding the
module loses no final that reached it, and `pw-transcribe export` reads
what is left."""

import json
import os
import re
import signal
import stat
import subprocess
import time
import unittest
from pathlib import Path

import bus
import fixture
from fixture import PipeWireTestCase
import test_continuity
from faultserver import SECRET

CLI = os.environ.get("CLI", "pw-transcribe")


class JournalTest(PipeWireTestCase):

    # The same rig as the continuity tests (not imported as a class: unittest
    # would run its tests here too).
    start = test_continuity.ContinuityTest.start
    play = test_continuity.ContinuityTest.play
    make_tones = test_continuity.ContinuityTest.make_tones
    finals = test_continuity.ContinuityTest.finals

    def setUp(self):
        super().setUp()
        self.server = self.host = None

    def journals(self):
        d = self.fx.home / ".local/state/pipewire-transcribe"
        return sorted(d.glob("c-*.jsonl")) if d.exists() else []

    def lines(self, path):
        return [json.loads(l) for l in path.read_text().splitlines()]

    def test_every_final_is_journaled_once_across_a_fault(self):
        wav, expected = self.make_tones(1)
        self.start("--fault", "1:rst@3100")
        player = self.play(wav)
        self.assertEqual(player.wait_exit(timeout=40), 0)
        self.fx.wait_for(lambda: len(self.finals()) >= len(expected), timeout=30, what="words")
        path = bus.get_property(self.fx, "c", "JournalPath")
        self.host.terminate()
        [journal] = self.journals()
        self.assertEqual(path, str(journal))
        self.assertEqual(stat.S_IMODE(journal.stat().st_mode), 0o600)
        lines = self.lines(journal)
        self.assertEqual(lines[0]["type"], "header")
        finals = [l for l in lines if l["type"] == "final"]
        self.assertEqual([f["text"] for f in finals], [e["text"] for e in expected])
        self.assertEqual([f["seq"] for f in finals], list(range(1, len(expected) + 1)))
        self.assertEqual({f["connection_id"] for f in finals}, {1, 2})
        states = [l["state"] for l in lines if l["type"] == "state"]
        self.assertIn("reconnecting", states)
        self.assertNotIn(SECRET, journal.read_text())
        # The journal exports (the strict format checks are tests/cli/test_export.py).
        out = subprocess.run([CLI, "export", str(journal), "--format", "srt"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("w300", out.stdout)

    # Real time only (the shim sleeps): under the sanitizers it would add
    # time and no code; tests/unit/test-iothread.c covers the I/O thread there.
    @unittest.skipIf(os.environ.get("TRANSCRIBE_HOST_PRELOAD"), "real-time; normal pass only")
    def test_fsync_taking_3_s_loses_no_audio_and_no_word(self):
        # A ring of 1 s: a worker that waited on one 3 s fsync would drop audio.
        wav, expected = self.make_tones(3)
        preload = " ".join(filter(None, [os.environ.get("TRANSCRIBE_HOST_PRELOAD"),
                                         os.environ["SLOW_FSYNC"]]))
        self.start(extra="buffer.ring-ms = 1000",
                   env={"LD_PRELOAD": preload, "SLOW_FSYNC_MS": "3000"})
        started = time.monotonic()
        player = self.play(wav)
        self.assertEqual(player.wait_exit(timeout=expected[-1]["end_ms"] / 1000 + 30), 0)
        self.fx.wait_for(lambda: len(self.finals()) >= len(expected), timeout=30, what="words")
        dropped = bus.get_property(self.fx, "c", "DroppedMs") or 0
        path = bus.get_property(self.fx, "c", "JournalPath")
        print("\n%.1f s of audio, %d fsyncs of 3 s, dropped_ms=%d"
              % (expected[-1]["end_ms"] / 1000, self.host.log.count("slow-fsync: fsync"), dropped))
        self.assertGreater(self.host.log.count("slow-fsync: fsync"), 2, "the shim was not in effect")
        self.assertEqual([w for w, _, _ in self.finals()], [e["text"] for e in expected])
        stopping = time.monotonic()
        self.host.terminate()
        # The unload joins the I/O thread (its last fsync) until the
        # asynchronous teardown takes over.
        print("host stopped in %.1f s" % (time.monotonic() - stopping))
        print("worst wait between two drains of the ring: %s ms"
              % re.findall(r"max_drain_gap_ms=(\d+)", self.host.log)[-1])
        lines = self.lines(Path(path))
        gaps = [l for l in lines if l["type"] == "gap"]
        # Nothing lost on our side; an xrun of a busy machine's graph (a
        # "missed" gap) would be the graph's, and is said as such.
        self.assertEqual([g for g in gaps if "missed by the graph" not in g["reason"]], [])
        self.assertEqual(dropped, sum(g["end_ms"] - g["start_ms"] for g in gaps), gaps)
        self.assertEqual([l["text"] for l in lines if l["type"] == "final"],
                         [e["text"] for e in expected])
        print("session took %.1f s" % (time.monotonic() - started))

    @unittest.skipIf(os.environ.get("TRANSCRIBE_HOST_PRELOAD"), "real-time; normal pass only")
    def test_a_stalled_host_is_a_gap_in_place_not_a_shift(self):
        # SIGSTOP the process holding the module for a second: the graph runs
        # on without it, its tap misses those cycles (no overflow: nothing
        # runs). The clock says so: a gap line, DroppedMs, and every word
        # after it still where it was played.
        wav, expected = self.make_tones(1)
        self.start()
        player = self.play(wav)
        self.fx.wait_for(lambda: len(self.finals()) >= 3, what="words before the stall")
        self.host.send_signal(signal.SIGSTOP)
        time.sleep(1.0)     # the stall itself; nothing waits on it to happen
        self.host.send_signal(signal.SIGCONT)
        self.assertEqual(player.wait_exit(timeout=expected[-1]["end_ms"] / 1000 + 30), 0)
        self.fx.wait_for(lambda: self.finals() and self.finals()[-1][0] == expected[-1]["text"],
                         timeout=30, what="the last word")
        dropped = bus.get_property(self.fx, "c", "DroppedMs") or 0
        path = bus.get_property(self.fx, "c", "JournalPath")
        self.host.terminate()
        gaps = [l for l in self.lines(Path(path)) if l["type"] == "gap"]
        want = {e["text"]: e["start_ms"] for e in expected}
        got = self.finals()
        offsets = [s - want[w] for w, s, _ in got]
        print("\ngaps: %s, DroppedMs=%d\nword start offsets vs the file: %s"
              % ([(g["start_ms"], g["end_ms"]) for g in gaps], dropped, offsets))
        # The stall's gap (a busy machine's xrun may add a short one).
        self.assertTrue(gaps, "no gap line for the stall")
        stall = max(gaps, key=lambda g: g["end_ms"] - g["start_ms"])
        self.assertIn("missed by the graph", stall["reason"])
        self.assertAlmostEqual(stall["end_ms"] - stall["start_ms"], 1000, delta=300)
        self.assertEqual(dropped, sum(g["end_ms"] - g["start_ms"] for g in gaps), gaps)
        self.assertTrue(any(s > stall["end_ms"] for _, s, _ in got), "no word after the gap")
        self.assertTrue(all(abs(o - offsets[0]) <= test_continuity.TOLERANCE_MS for o in offsets),
                        offsets)

    def test_sigkill_loses_no_final_that_reached_the_module_a_second_before(self):
        wav, expected = self.make_tones(2)
        self.start()
        self.play(wav)
        seen = {}          # server final line -> when it first showed up
        deadline = time.monotonic() + 30
        while len(seen) < 12 and time.monotonic() < deadline:
            for line in re.findall(r"^conn=\d+ final .*$", self.server.out(), re.M):
                seen.setdefault(line, time.monotonic())
            time.sleep(0.05)   # polling the server's log; the kill time is what matters
        killed = time.monotonic()
        self.host.send_signal(signal.SIGKILL)
        self.host.popen.wait(10)
        [journal] = self.journals()
        text = journal.read_text()
        self.assertTrue(text.endswith("\n"), "no half line after SIGKILL")
        journaled = [l["text"] for l in map(json.loads, text.splitlines()) if l["type"] == "final"]
        due = [re.search(r"text=(w\d+)", l).group(1)
               for l, t in sorted(seen.items(), key=lambda kv: kv[1]) if t < killed - 1.0]
        print("\n%d finals sent more than 1 s before the kill, %d journaled" % (len(due), len(journaled)))
        self.assertGreater(len(due), 5)
        self.assertEqual(journaled[:len(due)], due)
        # A restart is a new journal; the old one stays as it was.
        self.start()
        self.fx.wait_for(lambda: len(self.journals()) == 2, what="a second journal")
        self.assertEqual(journal.read_text(), text)


if __name__ == "__main__":
    fixture.main()
