#!/usr/bin/env python3
"""pw-transcribe-server --dialect vosk and --dialect openai-realtime give
the same words as the Soniox dialect on the LibriVox sentences of
pocketsphinx-testdata: one server per dialect (started together, so their
decoders load at once), one raw client each (hostile_client.Ws) sending the
clip as fast as the server takes it.

    TRANSCRIBE_SERVER=build/tools/server/pw-transcribe-server \\
    python3 tests/server/test_dialect_speech.py -v

Exits 77 (meson: skipped) without the binary, sox or the test data.
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import wave
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "faults"))
sys.path.insert(0, str(HERE))
import hostile_client  # noqa: E402
from test_server import LIBRIVOX, TESTDATA, Server, librivox_reference, lcs  # noqa: E402

SERVER = os.environ.get("TRANSCRIBE_SERVER", "")
CHUNK_MS = 100
RATE = 16000
READ_TIMEOUT = 120.0
OP_TEXT, OP_BINARY = 1, 2
PCM = None


def soniox(ws, chunks):
    ws.text(json.dumps({"model": "x", "audio_format": "pcm_s16le", "sample_rate": RATE,
                        "num_channels": 1}))
    for c in chunks:
        ws.send(OP_BINARY, c)
    ws.text("")


def soniox_words(msgs):
    return [t["text"].strip() for m in msgs for t in m.get("tokens", [])
            if t["is_final"] and not t["text"].startswith("<")]


def vosk(ws, chunks):
    ws.text('{"config":{"sample_rate":%d}}' % RATE)
    for c in chunks:
        ws.send(OP_BINARY, c)
    ws.text('{"eof" : 1}')


def vosk_words(msgs):
    return [w["word"] for m in msgs for w in m.get("result", [])]


def openai(ws, chunks):
    ws.text(json.dumps({"type": "session.update", "session": {"type": "transcription", "audio": {
        "input": {"format": {"type": "audio/pcm", "rate": RATE}}}}}))
    for c in chunks:
        ws.text(json.dumps({"type": "input_audio_buffer.append",
                            "audio": base64.b64encode(c).decode()}))
    ws.text('{"type":"input_audio_buffer.commit","final":true}')


def openai_words(msgs):
    return [w for m in msgs
            if m.get("type") == "conversation.item.input_audio_transcription.completed"
            for w in m["transcript"].split()]


DIALECTS = {"soniox": (soniox, soniox_words), "vosk": (vosk, vosk_words),
            "openai-realtime": (openai, openai_words)}


def transcribe(server, dialect):
    """(words, seconds, n replies) of one stream of the clip."""
    send, words = DIALECTS[dialect]
    n = RATE * 2 * CHUNK_MS // 1000
    chunks = [PCM[i:i + n] for i in range(0, len(PCM), n)]
    t0 = time.monotonic()
    ws = hostile_client.Ws("127.0.0.1:%d" % server.port, "/", timeout=READ_TIMEOUT)
    sender = threading.Thread(target=send, args=(ws, chunks), daemon=True)
    sender.start()     # reading meanwhile: the server never waits for us
    frames, how = ws.frames(READ_TIMEOUT)
    sender.join(READ_TIMEOUT)
    ws.close()
    msgs = [json.loads(p) for op, p in frames if op == OP_TEXT]
    return words(msgs), time.monotonic() - t0, len(msgs), how


class DialectSpeech(unittest.TestCase):

    def test_vosk_and_openai_realtime_give_the_soniox_words(self):
        # --rate 16000: the same audio as the others (openai-realtime's
        # default is OpenAI's 24000, which gives slightly different words)
        servers = {d: Server("--dialect", d, "--rate", str(RATE)) for d in DIALECTS}
        try:
            results = {}
            threads = [threading.Thread(target=lambda d=d: results.__setitem__(
                d, transcribe(servers[d], d))) for d in DIALECTS]
            for t in threads:
                t.start()
            for t in threads:
                t.join(READ_TIMEOUT + 10)
        finally:
            codes = {d: s.stop() for d, s in servers.items()}
        self.assertEqual(codes, {d: 0 for d in DIALECTS}, "servers' exit status")
        ref = librivox_reference()
        for d, (words, secs, n, how) in results.items():
            print("\n%s: %d words in %.1f s, %d replies, recall %.2f (ended: %s)"
                  % (d, len(words), secs, n, lcs(ref, words) / len(ref), how))
        self.assertGreater(lcs(ref, results["soniox"][0]) / len(ref), 0.6)
        for d in ("vosk", "openai-realtime"):
            self.assertEqual(results[d][0], results["soniox"][0], d)


def main():
    global PCM
    if not SERVER:
        print("TRANSCRIBE_SERVER must name the binary; skipping")
        return 77
    if not shutil.which("sox") or not (TESTDATA / "librivox").exists():
        print("needs sox and pocketsphinx-testdata (%s); skipping" % TESTDATA)
        return 77
    with tempfile.TemporaryDirectory(prefix="dialect-speech-") as tmp:
        out = Path(tmp) / "librivox.wav"
        clips = []
        for c in LIBRIVOX:
            clips += [TESTDATA / "librivox" / ("sense_and_sensibility_01_austen_64kb-%s.wav" % c)]
        # the sentences back to back, 1 s of silence at the end (the last
        # utterance ends by itself)
        subprocess.run(["sox", "-D", *map(str, clips), "-r", str(RATE), "-c", "1", "-b", "16",
                        str(out), "pad", "0", "1"], check=True, capture_output=True)
        with wave.open(str(out)) as w:
            PCM = w.readframes(w.getnframes())
        prog = unittest.main(exit=False, verbosity=2)
        return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
