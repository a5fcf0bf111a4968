#!/usr/bin/env python3
"""The fault server speaking every dialect (--dialect), seen by a raw
WebSocket client (hostile_client.Ws: every byte ours): the config, audio,
finalize, end of stream and error framing of deepgram, openai-realtime and
vosk, each against one fault-server. The words are those of
test_fault_server.py's tones (w300 w500 w700 w900).

    FAULT_SERVER=build/tests/faults/fault-server python3 tests/faults/test_dialects.py -v
"""

import base64
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest
import wave
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import hostile_client  # noqa: E402
from test_fault_server import FAULT_SERVER, TONES, Server  # noqa: E402

OP_TEXT, OP_BINARY, OP_CLOSE = 1, 2, 8
WORDS = ["w%d" % f for f in TONES]
CHUNK_MS = 100
KEY = "dialect-test-key"


def tones(rate=16000):
    """The PCM of make-tones.py's WAV at rate."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "t.wav")
        subprocess.run([sys.executable, str(HERE / "make-tones.py"), path, "--rate", str(rate),
                        "--freqs", ",".join(map(str, TONES))], check=True, timeout=30)
        with wave.open(path) as w:
            return w.readframes(w.getnframes())


def chunks(pcm, rate):
    n = rate * 2 * CHUNK_MS // 1000
    return [pcm[i:i + n] for i in range(0, len(pcm), n)]


def texts(frames):
    return [json.loads(p) for op, p in frames if op == OP_TEXT]


def close_of(frames):
    """(code, reason) of the server's close frame, or None."""
    for op, p in frames:
        if op == OP_CLOSE and len(p) >= 2:
            return struct.unpack("!H", p[:2])[0], p[2:].decode()
    return None


class DialectCase(unittest.TestCase):
    dialect = None
    args = ()

    @classmethod
    def setUpClass(cls):
        cls.pcm16 = tones()
        cls.srv = Server("--dialect", cls.dialect, "--key", KEY, *cls.args)

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.stop()
        if rc:
            raise AssertionError("fault-server exited with %d:\n%s" % (rc, cls.srv.stderr))

    def ws(self, path="/", key=KEY, scheme="Bearer"):
        return hostile_client.Ws("127.0.0.1:%d" % self.srv.port, path, key, scheme=scheme)

    def fault_next(self, spec):
        self.assertTrue(self.srv.command("fault next:" + spec).group(0).startswith("ok"))


class Deepgram(DialectCase):
    dialect = "deepgram"
    QUERY = "/v1/listen?encoding=linear16&sample_rate=16000&channels=1&interim_results=true"

    def stream(self, finalize=False, fault=None):
        if fault:
            self.fault_next(fault)
        ws = self.ws(self.QUERY, scheme="Token")
        self.assertEqual(ws.status, 101)
        for i, c in enumerate(chunks(self.pcm16, 16000)):
            ws.send(OP_BINARY, c)
            if finalize and i == 9:
                ws.text('{"type":"Finalize"}')
        ws.text('{"type":"KeepAlive"}')
        ws.text('{"type":"CloseStream"}')
        frames, _ = ws.frames()
        ws.close()
        return frames

    def test_config_audio_finalize_end(self):
        frames = self.stream(finalize=True)
        msgs = texts(frames)
        finals = [m for m in msgs if m.get("type") == "Results" and m["is_final"]]
        words = [w["word"] for m in finals for w in m["channel"]["alternatives"][0]["words"]]
        self.assertEqual(words, WORDS)
        # final results tile the audio: each starts where the last one ended
        end = 0.0
        for m in finals:
            self.assertAlmostEqual(m["start"], end, places=3)
            end = m["start"] + m["duration"]
        self.assertTrue(any(m["from_finalize"] for m in finals))
        self.assertTrue(any(m.get("type") == "Results" and not m["is_final"] for m in msgs))
        self.assertEqual(msgs[-1]["type"], "Metadata")
        self.assertEqual(close_of(frames)[0], 1000)

    def test_error_is_a_close_with_the_reason(self):
        frames = self.stream(fault="error=503@500")
        code, reason = close_of(frames)
        self.assertEqual(code, 1011)
        self.assertTrue(reason.startswith("NET-0000 Fault injected"), reason)

    def test_bad_key_and_bad_query_are_refused_at_the_upgrade(self):
        ws = self.ws(self.QUERY, key="wrong", scheme="Token")
        self.assertEqual(ws.status, 401)
        self.assertIn("dg-error: Invalid credentials.", ws.head)
        ws.close()
        ws = self.ws("/v1/listen?encoding=opus", scheme="Token")
        self.assertEqual(ws.status, 400)
        ws.close()


class OpenAIRealtime(DialectCase):
    dialect = "openai-realtime"
    UPDATE = {"type": "session.update", "session": {"type": "transcription", "audio": {"input": {
        "format": {"type": "audio/pcm", "rate": 16000},
        "transcription": {"model": "gpt-4o-transcribe"}}}}}

    def stream(self, fault=None, end='{"type":"input_audio_buffer.commit","final":true}'):
        if fault:
            self.fault_next(fault)
        ws = self.ws("/v1/realtime?intent=transcription")
        self.assertEqual(ws.status, 101)
        ws.text(json.dumps(self.UPDATE))
        for i, c in enumerate(chunks(self.pcm16, 16000)):
            ws.text(json.dumps({"type": "input_audio_buffer.append",
                                "audio": base64.b64encode(c).decode()}))
            if i == 9:
                ws.text('{"type":"input_audio_buffer.commit"}')
        ws.text(end)
        frames, _ = ws.frames()
        ws.close()
        return frames

    def test_config_audio_commit_end(self):
        frames = self.stream()
        msgs = texts(frames)
        types = [m["type"] for m in msgs]
        self.assertEqual(types[:2], ["session.created", "session.updated"])
        self.assertEqual(msgs[1]["session"]["audio"]["input"]["format"]["rate"], 16000)
        done = [m for m in msgs
                if m["type"] == "conversation.item.input_audio_transcription.completed"]
        self.assertEqual(" ".join(m["transcript"] for m in done if m["transcript"]).split(), WORDS)
        # a VAD item per word (speech_stopped: the committed position), in
        # order; the client's commit in the pause made an item without one
        stops = [m["audio_end_ms"] for m in msgs
                 if m["type"] == "input_audio_buffer.speech_stopped"]
        self.assertEqual(stops, sorted(stops))
        self.assertEqual(len(stops), len(WORDS))
        self.assertEqual(len(done), len(WORDS) + 1)

    def test_commit_of_an_empty_buffer_is_an_error_the_stream_survives(self):
        ws = self.ws("/v1/realtime")
        ws.text(json.dumps(self.UPDATE))
        ws.text('{"type":"input_audio_buffer.commit"}')
        ws.text(json.dumps({"type": "input_audio_buffer.append",
                            "audio": base64.b64encode(self.pcm16[:32000]).decode()}))
        ws.text('{"type":"input_audio_buffer.commit","final":true}')
        frames, _ = ws.frames()
        ws.close()
        msgs = texts(frames)
        self.assertEqual([m["error"]["code"] for m in msgs if m["type"] == "error"],
                         ["input_audio_buffer_commit_empty"])
        self.assertEqual(close_of(frames)[0], 1000)
        self.assertEqual(close_of(frames)[0], 1000)

    def test_error_event_then_close(self):
        frames = self.stream(fault="limit=500")
        err = [m for m in texts(frames) if m["type"] == "error"]
        self.assertEqual(err[0]["error"]["code"], "session_expired")
        self.assertIsNotNone(close_of(frames))

    def test_bad_key_is_refused_at_the_upgrade(self):
        ws = self.ws("/v1/realtime", key="wrong")
        self.assertEqual(ws.status, 401)
        while b"\n" not in ws.buf:
            chunk = ws.sock.recv(4096)
            if not chunk:
                break
            ws.buf += chunk
        body = json.loads(ws.buf.split(b"\n")[0])
        self.assertEqual(body["error"]["code"], "invalid_api_key")
        ws.close()

    def test_binary_audio_is_refused(self):
        ws = self.ws("/v1/realtime")
        ws.send(OP_BINARY, b"\0" * 320)
        frames, _ = ws.frames()
        ws.close()
        err = [m for m in texts(frames) if m["type"] == "error"]
        self.assertIn("input_audio_buffer.append", err[0]["error"]["message"])


class Vosk(DialectCase):
    dialect = "vosk"

    def stream(self, fault=None, config=True):
        if fault:
            self.fault_next(fault)
        ws = self.ws()
        self.assertEqual(ws.status, 101)
        if config:
            ws.text('{"config":{"sample_rate":16000}}')
        n = 0
        for i, c in enumerate(chunks(self.pcm16, 16000)):
            ws.send(OP_BINARY, c)
            n += 1
            if i == 9:
                ws.text('{"reset" : 1}')
        ws.text('{"eof" : 1}')
        frames, _ = ws.frames()
        ws.close()
        return frames, n

    def test_one_reply_per_audio_message_then_eof(self):
        frames, n = self.stream()
        msgs = texts(frames)
        # one per audio message, one for the reset, one for the eof
        self.assertEqual(len(msgs), n + 2)
        words = [w["word"] for m in msgs for w in m.get("result", [])]
        self.assertEqual(words, WORDS)
        self.assertTrue(all(set(m) <= {"partial"} or "text" in m for m in msgs))
        self.assertEqual(close_of(frames)[0], 1000)

    def test_error_is_a_close_with_the_reason(self):
        frames, _ = self.stream(fault="error=500@500")
        code, reason = close_of(frames)
        self.assertEqual(code, 1011)
        self.assertIn("Fault injected", reason)

    def test_eof_must_be_the_exact_string(self):
        ws = self.ws()
        ws.text('{"eof":1}')
        frames, _ = ws.frames()
        ws.close()
        self.assertEqual(close_of(frames)[0], 1008)


if __name__ == "__main__":
    if not (FAULT_SERVER and os.access(FAULT_SERVER, os.X_OK)):
        print("FAULT_SERVER not set to an executable: skipping")
        sys.exit(77)
    unittest.main()
