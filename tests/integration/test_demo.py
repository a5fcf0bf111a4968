#!/usr/bin/env python3
"""The README's demo runs to the end unattended (no terminal, no audio
hardware) and prints the clip's words."""

import os
import subprocess
import sys
import unittest
from pathlib import Path

import fixture
import speech

DEMO = Path(__file__).resolve().parents[2] / "tools" / "demo.py"


@unittest.skipUnless(speech.librivox_available(), "needs pocketsphinx-testdata")
class DemoTest(unittest.TestCase):

    def test_demo_captions_the_librivox_sentences_unattended(self):
        res = subprocess.run([sys.executable, str(DEMO)], env=dict(os.environ),
                             stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180)
        print(res.stdout)
        self.assertEqual(res.returncode, 0, res.stdout[-2000:] + res.stderr[-2000:])
        captions = [l.split("] ", 1)[1] for l in res.stdout.splitlines() if l.startswith("[")]
        heard = " ".join(captions).split()
        ref = [w for _, words in speech.librivox_sentences() for w in words]
        errors, n = speech.wer(ref, heard)
        # Recognisable, not perfect: test_speech holds the WER to account.
        self.assertLess(errors / n, 0.5, "\n".join(captions))
        self.assertIn("rather cold hearted and rather selfish", " ".join(captions))
        self.assertNotIn("\033", res.stdout, "no terminal: no escape sequences")
        self.assertIn("word error rate", res.stdout)


if __name__ == "__main__":
    fixture.main()
