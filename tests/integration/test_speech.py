#!/usr/bin/env python3
"""Real speech end to end: a recording played in a private PipeWire, tapped
by the module, transcribed by pw-transcribe-server (pocketsphinx)."""

import os
import re
import unittest
from pathlib import Path

import fixture
from fixture import PipeWireTestCase, wait_for

MODULE = "libpipewire-module-transcribe"
GOFORWARD = Path("/usr/share/pocketsphinx/test/data/goforward.raw")


@unittest.skipUnless(GOFORWARD.exists(), "needs pocketsphinx-testdata")
class SpeechTest(PipeWireTestCase):

    def test_recorded_speech_comes_back_as_words_in_order(self):
        fx = self.fx
        server = fx.spawn("server", [os.environ["TRANSCRIBE_SERVER"], "--port", "0"])
        port = wait_for(lambda: re.search(r"listening port=(\d+)", server.out_path.read_text()
                                          if server.out_path.exists() else ""),
                        what="pw-transcribe-server listening").group(1)
        speech = fx.path("goforward.wav")
        fx.run(["sox", "-t", "raw", "-r", "16000", "-e", "signed", "-b", "16", "-c", "1",
                GOFORWARD, speech])
        host = fx.start_module_host(
            MODULE, "{ service.url = \"ws://127.0.0.1:%s/transcribe-websocket\" "
            "taps = [ { name = sp mode = tap target = %s } ] }" % (port, fixture.PLAYER),
            debug="mod.transcribe:4")
        fx.wait_for_ports("transcribe.sp", "in", 2)
        player = fx.play(speech, channels=1)
        fx.link(fixture.PLAYER + ":output_MONO", fixture.SINK + ":playback_FL")
        self.assertEqual(player.wait_exit(timeout=30), 0, player.describe())
        # Stopping finalizes: the last words arrive before the host exits.
        host.terminate()
        words = [w.strip() for w in re.findall(r' final start_ms=\d+ end_ms=\d+ text="([^"]*)"',
                                               host.log)]
        self.assertEqual(words, ["go", "forward", "ten", "meters"], host.log[-3000:])


if __name__ == "__main__":
    fixture.main()
