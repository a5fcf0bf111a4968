#!/usr/bin/env python3
"""Ends the session makes on purpose, with the continuity check of
test_continuity.py (the words of the fault-free run, each once, in place):
100 Reconnects and 20 Stop/Start pairs during speech, the rollover before a
(short) session cap, and what happens when the audio stops: the last word
becomes final, silence is never a stall, and a long silence closes the
connection until speech returns (issue 12 findings 4-7, issue 14 item 5)."""

import os
import re
import time
import unittest
import wave

import bus
import fixture
import test_continuity


class SessionEndsTest(test_continuity.ContinuityTest):

    # The real-time rows that only take time under the sanitizers run in
    # the normal pass (they exercise no code the others do not).
    normal_pass_only = unittest.skipIf(os.environ.get("TRANSCRIBE_HOST_PRELOAD"),
                                       "real-time row; run in the normal pass")

    def test_reconnect_and_stop_start_storms_lose_and_repeat_nothing(self):
        """Issue 12 findings 4-6: 100 Reconnect calls at once, then 20
        Stop/Start pairs (the last call a Start), all while words are
        spoken: one socket at a time as the server sees it, the tap ends
        streaming, and the transcript is the fault-free one."""
        wav, expected = self.make_tones(repeat=2)
        self.start()
        player = self.play(wav)
        self.fx.wait_for(lambda: len(self.finals()) >= 2, what="words before the storm")
        calls = [bus.call_async(self.fx, "c", "Reconnect") for _ in range(100)]
        for c in calls:
            bus.result_of(c)    # answered, each (-EBUSY beyond 64 queued is an answer too)
        for _ in range(20):
            self.assertTrue(bus.call(self.fx, "c", "Stop")[0])
            self.assertTrue(bus.call(self.fx, "c", "Start")[0])
        self.fx.wait_for(lambda: bus.get_property(self.fx, "c", "State") == "streaming",
                         timeout=20, what="streaming after the last Start")
        self.check_transcript(expected, player, expected[-1]["end_ms"] / 1000)
        self.assertEqual(self.server.max_open(), 1, self.server.out()[-3000:])
        self.assertGreaterEqual(self.server.accepted(), 3)

    @normal_pass_only
    def test_rollover_before_a_5_s_session_cap_loses_and_repeats_nothing(self):
        """Issue 12 finding 7: a connection is replaced before the cap, at a
        pause in speech, and the transcript goes on as if nothing happened."""
        wav, expected = self.make_tones(repeat=4)          # 35 s of words
        self.start(extra="service.max-session-sec = 5")
        player = self.play(wav)
        self.check_transcript(expected, player, expected[-1]["end_ms"] / 1000)
        rollovers = re.findall(r'rollover after (\d+) ms reason="([^"]+)"', self.host.log)
        self.assertGreaterEqual(len(rollovers), 5, rollovers)
        self.assertTrue(all(int(ms) <= 5000 for ms, _ in rollovers), rollovers)
        self.assertEqual(self.server.max_open(), 1)

    def cut_tones(self, cut_ms):
        """Tones whose last burst is cut off after cut_ms: the file (and the
        audio) ends mid-word."""
        wav, expected = self.make_tones(1, "300,700,1100")
        with wave.open(str(wav), "rb") as w:
            params, frames = w.getparams(), w.readframes(w.getnframes())
        end = expected[-1]["start_ms"] + cut_ms
        with wave.open(str(wav), "wb") as w:
            w.setparams(params)
            w.writeframes(frames[:end * params.framerate // 1000 * params.sampwidth])
        return wav, expected

    def test_when_the_audio_stops_the_last_word_is_final_and_silence_is_no_stall(self):
        """Issue 14 item 5: the app stops mid-word; the word becomes final
        within 2 s of the audio's end (liveness.idle-finalize-ms, 1500), and
        the silence after it is never a stall: with a 2 s stall timeout, 10 s
        of it cause no reconnect."""
        wav, expected = self.cut_tones(200)
        self.start()
        player = self.play(wav)
        self.assertEqual(player.wait_exit(timeout=30), 0, player.describe())
        self.fx.wait_for(lambda: len(self.finals()) >= 3, timeout=10, what="the cut word final")
        # The audio ended when the last speech reached the worker: the
        # finalize says how long before it that was.
        finalize = re.search(r'^\[\w\]\[(\d+\.\d+)\].*finalize reason="no speech" silent_ms=(\d+)',
                             self.host.log, re.M)
        audio_end = float(finalize.group(1)) - int(finalize.group(2)) / 1000
        final_at = fixture.log_stamps(self.host.log, r" final start_ms=\d+ end_ms=\d+ text=")[2]
        print("\naudio end -> last word final: %.0f ms" % ((final_at - audio_end) * 1000))
        self.assertLess(final_at - audio_end, 2.0)
        self.assertEqual([w for w, _, _ in self.finals()], [e["text"] for e in expected])
        self.assertIn('finalize reason="no speech"', self.host.log)
        silence_until = time.monotonic() + 10
        self.fx.wait_for(lambda: time.monotonic() >= silence_until or self.server.accepted() > 1,
                         timeout=15, what="10 s of silence")
        self.assertEqual(self.server.accepted(), 1, self.host.log[-3000:])
        self.assertNotIn("no progress", self.host.log)

    def test_a_long_silence_closes_and_speech_reopens_where_it_left_off(self):
        """liveness.idle-close-sec: after the silence the connection closes
        cleanly (state idle); the next words open a new one, heard from
        their start."""
        wav, expected = self.make_tones(1, "300,700,1100")
        self.start(extra="liveness.idle-close-sec = 2")
        player = self.play(wav)
        self.assertEqual(player.wait_exit(timeout=30), 0, player.describe())
        self.fx.wait_for(lambda: "-> idle" in self.host.log, timeout=15, what="closed for silence")
        self.assertRegex(self.server.out(), r"conn=1 finished")
        player = self.play(wav)
        self.assertEqual(player.wait_exit(timeout=30), 0, player.describe())
        self.fx.wait_for(lambda: len(self.finals()) >= 6, timeout=20, what="the words again")
        self.assertEqual([w for w, _, _ in self.finals()], [e["text"] for e in expected] * 2)
        self.assertIn('reason="speech returned"', self.host.log)
        self.assertEqual(self.server.accepted(), 2)
        self.assertEqual(self.server.max_open(), 1)



# The rows of ContinuityTest run from test_continuity.py, not again here.
for name in vars(test_continuity.ContinuityTest):
    if name.startswith("test_"):
        setattr(SessionEndsTest, name, None)

if __name__ == "__main__":
    fixture.main()
