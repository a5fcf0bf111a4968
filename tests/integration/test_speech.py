#!/usr/bin/env python3
"""Real speech end to end: recordings played in a private PipeWire, tapped
by the module, transcribed by pw-transcribe-server (pocketsphinx)."""

import os
import shutil
import unittest

import fixture
import speech
from fixture import PipeWireTestCase

# The module path may be this much worse than pocketsphinx on the same audio
# (the budget): PipeWire resamples 16k -> 48k -> 16k on the way.
WER_BUDGET_POINTS = 2.0


@unittest.skipUnless(speech.GOFORWARD.exists(), "needs pocketsphinx-testdata")
class SpeechTest(PipeWireTestCase):

    def transcribe(self, clip, default_service=False, prefix=()):
        fx = self.fx
        server = speech.Server(fx, os.environ["TRANSCRIBE_SERVER"], prefix=prefix)
        host = speech.tap_player(fx, None if default_service else server.url, prefix=prefix)
        player, _ = speech.play(fx, clip.wav)
        self.assertEqual(speech.wait_played(player, clip), 0, player.describe())
        # Stopping finalizes: the last words arrive before the host exits.
        host.terminate()
        captions = speech.Captions(host)
        captions.poll()
        return speech.words_of(captions.finals), host

    def goforward(self):
        wav = self.fx.path("goforward.wav")
        self.fx.run(["sox", "-t", "raw", "-r", "16000", "-e", "signed", "-b", "16", "-c", "1",
                     speech.GOFORWARD, wav])
        return speech.user_clip(self.fx, wav)

    def test_recorded_speech_comes_back_as_words_in_order(self):
        words, host = self.transcribe(self.goforward())
        self.assertEqual(words, ["go", "forward", "ten", "meters"], host.log[-3000:])

    def test_without_a_service_block_the_embedded_server_transcribes(self):
        # Both default to the Unix socket in the (fixture's private) runtime dir.
        words, host = self.transcribe(self.goforward(), default_service=True)
        self.assertEqual(words, ["go", "forward", "ten", "meters"], host.log[-3000:])
        self.assertIn("service=embedded url=ws+unix://%s/pipewire-transcribe/server.sock:"
                      "/transcribe-websocket" % self.fx.runtime_dir, host.log)

    @unittest.skipUnless(speech.librivox_available() and shutil.which("pocketsphinx_continuous"),
                         "needs pocketsphinx-testdata and pocketsphinx")
    def test_module_path_adds_no_word_errors_to_pocketsphinx(self):
        clip = speech.librivox_clip(self.fx)
        direct = speech.pocketsphinx_direct(clip.wav)
        via_module, host = self.transcribe(clip)
        d_err, n = speech.wer(clip.words, direct)
        m_err, _ = speech.wer(clip.words, via_module)
        d_wer, m_wer = 100.0 * d_err / n, 100.0 * m_err / n
        print("\nWER on %d reference words: pocketsphinx direct %.1f %% (%d errors), "
              "module -> server %.1f %% (%d errors)" % (n, d_wer, d_err, m_wer, m_err))
        print("direct: " + " ".join(direct))
        print("module: " + " ".join(via_module))
        self.assertLessEqual(m_wer, d_wer + WER_BUDGET_POINTS, host.log[-3000:])


if __name__ == "__main__":
    fixture.main()
