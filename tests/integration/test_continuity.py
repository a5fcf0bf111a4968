#!/usr/bin/env python3
"""Zero loss across faults: tones played in real time through a private
PipeWire, the module streaming them to tests/faults/fault-server (each
burst comes back as one word, w<frequency>), and a fault in the middle.
The final transcript must be the fault-free one word for word, in order,
with no duplicates, and every word where it was in the played audio
(±40 ms): the audio since the last final word is kept and replayed to the
next connection, and token times stay on the tap's timeline."""

import json
import os
import re
import subprocess
import sys
import time
import unittest
from pathlib import Path

import bus
import fixture
from fixture import PipeWireTestCase
from faultserver import FaultServer, SECRET, TONES

MODULE = "libpipewire-module-transcribe"
FREQS = ",".join(str(f) for f in range(300, 3400, 200))     # 16 distinct words
TOLERANCE_MS = 40
FINAL_RE = re.compile(r' final start_ms=(-?\d+) end_ms=(-?\d+) text=" ?(w\d+)"')
# With TRANSCRIBE_TRANSCRIPT_DIR set, each test writes the transcript it
# checked there (<test>.txt: word, start and end relative to the first word),
# so two builds can be compared byte for byte.
TRANSCRIPT_DIR = os.environ.get("TRANSCRIBE_TRANSCRIPT_DIR")


def record_transcript(test, got):
    """A function, not a method: other suites borrow check_transcript()."""
    if not TRANSCRIPT_DIR or not got:
        return
    first = got[0][1]
    lines = ["%s %d %d\n" % (w, s - first, e - first) for w, s, e in got]
    Path(TRANSCRIPT_DIR, test.id().rsplit(".", 1)[-1] + ".txt").write_text("".join(lines))


class ContinuityTest(PipeWireTestCase):

    def setUp(self):
        super().setUp()
        self.server = self.host = None

    def tearDown(self):
        if self.host is not None:
            self.assertNotIn(SECRET, self.host.log)

    def make_tones(self, repeat, freqs=FREQS):
        wav = self.fx.path("tones.wav")
        args = [sys.executable, str(TONES), str(wav), "--freqs", freqs, "--repeat", str(repeat)]
        self.fx.run(args)
        out = subprocess.run(args + ["--expect"], capture_output=True, text=True, check=True).stdout
        return wav, [json.loads(l) for l in out.splitlines() if l.strip()]

    def start(self, *server_args, port=None, extra="", env=None):
        fx = self.fx
        more = ("--port", str(port)) if port else ()
        self.server = FaultServer(fx, "--key", SECRET, *more, *server_args)
        args = ("{ service = { url = \"%s\" api-key.env = TRANSCRIBE_TEST_KEY } "
                "reconnect = { base-ms = 200 cap-ms = 1000 } liveness.stall-timeout-ms = 2000 %s "
                "taps = [ { name = c mode = tap target = %s } ] }"
                % (self.server.url, extra, fixture.PLAYER))
        self.host = fx.start_module_host(MODULE, args, debug="mod.transcribe:4",
                                         env={"TRANSCRIBE_TEST_KEY": SECRET, **(env or {})})
        fx.wait_for_ports("transcribe.c", "in", 2)
        fx.wait_for(lambda: "-> streaming" in self.host.log, what="streaming")

    def play(self, wav):
        player = self.fx.play(wav, channels=1)
        self.fx.link(fixture.PLAYER + ":output_MONO", fixture.SINK + ":playback_FL")
        return player

    def finals(self):
        return [(w, int(s), int(e)) for s, e, w in FINAL_RE.findall(self.host.log)]

    def check_transcript(self, expected, player, duration_s):
        self.assertEqual(player.wait_exit(timeout=duration_s + 30), 0, player.describe())
        self.fx.wait_for(lambda: len(self.finals()) >= len(expected), timeout=60,
                         what="%d words" % len(expected))
        self.host.terminate()
        got = self.finals()
        record_transcript(self, got)
        detail = "\n".join("%s %d" % (w, s) for w, s, _ in got)
        self.assertEqual([w for w, _, _ in got], [e["text"] for e in expected], detail)
        # The tap's stream starts with the player's first graph cycle, which
        # carries no audio yet: everything sits up to one quantum late, the
        # same for every word. Across the seam no word may move against it.
        offsets = [s - e["start_ms"] for (_, s, _), e in zip(got, expected)]
        print("\nword start offsets vs the file: min %d max %d ms (quantum %.1f ms)"
              % (min(offsets), max(offsets), self.fx.max_quantum_ms()))
        self.assertLessEqual(abs(offsets[0]), self.fx.max_quantum_ms() + TOLERANCE_MS)
        self.assertTrue(all(abs(o - offsets[0]) <= TOLERANCE_MS for o in offsets), offsets)

    def run_fault(self, fault, repeat=1):
        wav, expected = self.make_tones(repeat)
        self.start(*(("--fault", "1:" + fault) if fault else ()))
        player = self.play(wav)
        self.check_transcript(expected, player, expected[-1]["end_ms"] / 1000)
        if fault:
            self.assertGreaterEqual(self.server.accepted(), 2, self.server.out()[-2000:])

    def test_without_a_fault_every_word_comes_once_in_place(self):
        self.run_fault(None)

    def test_rst_mid_word_loses_and_repeats_nothing(self):
        self.run_fault("rst@3100")

    def test_close_1011_loses_and_repeats_nothing(self):
        self.run_fault("close=1011@3100")

    def test_a_stalled_connection_loses_and_repeats_nothing(self):
        self.run_fault("stall@3100")

    def test_error_503_loses_and_repeats_nothing(self):
        self.run_fault("error=503@3100")

    def test_session_limit_rollover_loses_and_repeats_nothing(self):
        self.run_fault("limit=3100")

    def test_speaker_labels_stay_the_same_across_a_reconnect(self):
        # Low words are one voice, high ones another; the fault server
        # numbers voices per connection in the order it hears them, and the
        # replay (1.7 s before C) starts just before a high word: connection 2 calls the
        # voices the other way round, and the module has to map them back.
        lows, highs = list(range(300, 1400, 200)), list(range(1500, 3400, 200))
        freqs = [f for pair in zip(lows, highs) for f in pair] + highs[len(lows):]
        wav, expected = self.make_tones(1, ",".join(map(str, freqs)))
        self.start("--fault", "1:rst@4100",
                   extra="service.diarization = true buffer.speaker-overlap-ms = 1700")
        player = self.play(wav)
        self.check_transcript(expected, player, expected[-1]["end_ms"] / 1000)
        swapped = [m for m in re.finditer(r"^conn=2 final text=w(\d+) .* speaker=(\d)",
                                          self.server.out(), re.M)
                   if (int(m.group(1)) < 1500) == (m.group(2) == "2")]
        self.assertTrue(swapped, "connection 2 should number the voices the other way round")
        journal = next((self.fx.home / ".local/state/pipewire-transcribe").glob("c-*.jsonl"))
        finals = [l for l in map(json.loads, journal.read_text().splitlines())
                  if l["type"] == "final"]
        self.assertEqual([f["speaker"] for f in finals],
                         ["1" if int(f["text"][1:]) < 1500 else "2" for f in finals])

    def outage(self, down_s, extra="", during=None):
        wav, expected = self.make_tones(repeat=int(down_s / 8.8) + 2)
        self.start(extra=extra)
        port = self.server.port
        player = self.play(wav)
        self.fx.wait_for(lambda: len(self.finals()) >= 3, what="words before the outage")
        self.server.proc.terminate()
        time.sleep(down_s)   # the outage itself; nothing waits on it to happen
        if during is not None:
            during()
        self.server = FaultServer(self.fx, "--key", SECRET, "--port", str(port))
        self.check_transcript(expected, player, expected[-1]["end_ms"] / 1000)
        return expected

    # The outages only wait in real time: under the sanitizers they would
    # add time and exercise no code the faults above do not. Each is as
    # short as what it proves allows (the 10-minute outage is a bench).
    long_outage = unittest.skipIf(os.environ.get("TRANSCRIBE_HOST_PRELOAD"),
                                  "real-time outage; run in the normal pass")

    @long_outage
    def test_server_down_12_s_loses_and_repeats_nothing(self):
        self.outage(12)

    @long_outage
    def test_an_outage_longer_than_memory_is_spooled_to_disk_and_loses_nothing(self):
        spooled = []
        self.outage(12, extra="buffer.memory-sec = 3",
                    during=lambda: spooled.append(bus.get_property(self.fx, "c", "SpooledMs")))
        self.assertGreater(spooled[0], 6000)
        self.assertEqual(bus.get_property(self.fx, "c", "DroppedMs") or 0, 0)

    @long_outage
    def test_server_down_offline_then_catches_up(self):
        # Two fast attempts, then probes: offline within a second or two.
        self.outage(12, extra="reconnect.fast-attempts = 2 reconnect.offline-probe-ms = 2000")
        self.assertIn("-> offline", self.host.log)


if __name__ == "__main__":
    fixture.main()
