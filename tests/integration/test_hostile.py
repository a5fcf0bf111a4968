#!/usr/bin/env python3
"""A hostile service, module side: the module in a private PipeWire streams
tones to tests/faults/fault-server, which sends what a broken or hostile
service could (the fault server's hostile rows: a text message over our
1 MiB limit, a non-JSON message, a binary message over the limit). The
module host must survive each (no crash, a clean exit), reconnect when the
connection had to go, and lose no word: the transcript is the fault-free
one, word for word, in place (test_continuity's check).

Also the embedded default service over a Unix socket: with no service
block the module connects to $XDG_RUNTIME_DIR/pipewire-transcribe/server.sock
(the fault server listens there in this test).

HostileTableTest runs one module host through every kind of hostile
service row of tests/faults/hostile_services.py and prints the table."""

import os
import re
import sys

import fixture
import test_continuity
from fixture import PipeWireTestCase
from faultserver import FaultServer, SECRET

MODULE = "libpipewire-module-transcribe"
OVER_LIMIT = 1500000        # bytes: the crash was 1.05 MiB and up
FAULT_AT_MS = 3100          # mid-word, as in test_continuity


# The module against every kind of hostile service row (tests/faults/
# hostile_services.py), one connection each: (name, fault spec, what the
# module must do). A row that leaves the connection open is followed by a
# close 1011 so the next row gets the next connection. Floods are sized to
# prove the bound (journal.max-mb = 1 here), not to take minutes.
AT = 1000
TABLE = [
    ("text message of 1.10 MB", "oversized@%d;bytes=1100000" % AT, "closed 1009, reconnect"),
    ("text message of 50 MB", "oversized@%d;bytes=50000000" % AT, "closed 1009, reconnect"),
    ("binary message of 3 MB", "bigbinary@%d;bytes=3000000" % AT, "closed 1009, reconnect"),
    ("100k tokens in one message", "tokens@%d;count=100000" % AT, "closed 1009 (7.5 MB), reconnect"),
    ("token at 2^40 ms", "times=huge@%d" % AT, "dropped, logged once"),
    ("negative times", "times=negative@%d" % AT, "dropped, logged once"),
    ("start after end", "times=reversed@%d" % AT, "end set to start"),
    ("times past the audio sent", "times=beyond@%d" % AT, "dropped, logged once"),
    ("1.5e300 times", "times=float@%d" % AT, "dropped or clamped"),
    ("times that are strings", "times=string@%d" % AT, "the message ignored, logged"),
    ("a final earlier than the last", "times=decreasing@%d" % AT, "kept on the timeline"),
    ("final_audio_proc_ms = 2^40", "times=progress@%d" % AT, "refused; C does not move"),
    ("text not UTF-8", "badutf8@%d" % AT, "no crash"),
    ("20000 partials", "partials@%d;count=20000" % AT, "bounded rate, no final invented"),
    ("100000 finals", "finals@%d;count=100000" % AT, "journal capped at 1 MB, words published"),
    ("100000 finals past the audio", "finals@%d;count=100000;step=1" % AT, "dropped, logged once"),
    ("ping flood", "pings@%d;count=10000" % AT, "answered, no crash"),
    ("close code 0", "rawclose=0@%d" % AT, "reconnect"),
    ("close code 1005", "rawclose=1005@%d" % AT, "reconnect"),
    ("close code 65535", "rawclose=65535@%d" % AT, "reconnect"),
    ("close, a 1-byte payload", "rawclose=short@%d" % AT, "reconnect"),
    ("close, no payload", "rawclose=empty@%d" % AT, "reconnect"),
]
CLOSING = ("oversized", "bigbinary", "tokens", "rawclose")


class HostileTableTest(PipeWireTestCase):
    """Every row against one module host: it must come through all of them
    (no crash, a reconnect after each, bounded log, journal and memory) and
    still transcribe afterwards."""

    def test_the_module_survives_every_hostile_service_row(self):
        fx = self.fx
        args = []
        for i, (_, spec, _) in enumerate(TABLE, start=1):
            if not spec.startswith(CLOSING):
                spec += ",close=1011@%d" % (AT + 600)
            args += ["--fault", "%d:%s" % (i, spec)]
        server = FaultServer(fx, "--key", SECRET, *args)
        host = fx.start_module_host(
            MODULE, "{ service = { url = \"%s\" api-key.env = TRANSCRIBE_TEST_KEY } "
            "reconnect = { base-ms = 50 cap-ms = 200 fast-attempts = 100 } journal.max-mb = 1 "
            "taps = [ { name = c mode = tap target = %s } ] }" % (server.url, fixture.PLAYER),
            debug="mod.transcribe:4", env={"TRANSCRIBE_TEST_KEY": SECRET})
        fx.wait_for_ports("transcribe.c", "in", 2)
        tones = fx.path("tones.wav")
        fx.run([sys.executable, str(test_continuity.TONES), str(tones), "--repeat", "40"])
        player = fx.play(tones, channels=1)
        fx.link(fixture.PLAYER + ":output_MONO", fixture.SINK + ":playback_FL")
        n = len(TABLE)
        fx.wait_for(lambda: len(re.findall(r"^conn=\d+ accept ", server.out(), re.M)) > n,
                    timeout=45 * (2 if os.environ.get("TRANSCRIBE_HOST_PRELOAD") else 1),
                    what="a connection after every row")
        # Words still come after the last row.
        fx.wait_for(lambda: re.search(r"^conn=%d final " % (n + 1), server.out(), re.M),
                    timeout=20, what="words after the last row")
        rss_kb = int(re.search(r"VmHWM:\s+(\d+)", open("/proc/%d/status" % host.pid).read())
                     .group(1))
        player.terminate()
        host.terminate()
        self.assertEqual(host.returncode, 0, host.describe())
        log = host.log
        self.assertNotRegex(log, r"AddressSanitizer|runtime error:")
        self.assertNotIn(SECRET, log)
        print("\n%-32s %-44s %s" % ("row", "the module must", "seen"))
        for i, (name, spec, expect) in enumerate(TABLE, start=1):
            lines = [l for l in log.splitlines() if " conn=%d " % i in l and "[W]" in l]
            closed = re.search(r"^conn=%d closed code=(\d+) by=(\w+)" % i, server.out(), re.M)
            print("%-32s %-44s warn_lines=%d closed=%s" % (name, expect, len(lines),
                  "%s by %s" % closed.groups() if closed else "-"))
            self.assertLessEqual(len(lines), 3, "row %r: %d warnings" % (name, len(lines)))
            self.assertIsNotNone(closed, "row %r: the connection never ended" % name)
            if spec.startswith(("oversized", "bigbinary", "tokens")):
                # Our 1009, or a reset when the peer kept sending past it
                # and the close frame could not get out in time.
                self.assertIn(closed.group(1), ("1009", "1006"), name)
        sizes = sum(1 for _, spec, _ in TABLE if spec.startswith(("oversized", "bigbinary", "tokens")))
        self.assertGreaterEqual(log.count("(service.max-message-kb); closed with 1009"), sizes)
        journal = next((fx.home / ".local/state/pipewire-transcribe").glob("c-*.jsonl"))
        size = journal.stat().st_size
        print("journal %d bytes (cap 1 MB); host peak RSS %d kB; -> failed: %s"
              % (size, rss_kb, "-> failed" in log))
        self.assertLessEqual(size, (1 << 20) + 4096)
        self.assertNotIn("-> failed", log)
        if not os.environ.get("TRANSCRIBE_HOST_PRELOAD"):   # ASan's own memory counts there
            self.assertLess(rss_kb, 64 * 1024)


class HostileServiceTest(PipeWireTestCase):
    # test_continuity's machinery, without its tests.
    make_tones = test_continuity.ContinuityTest.make_tones
    start = test_continuity.ContinuityTest.start
    play = test_continuity.ContinuityTest.play
    finals = test_continuity.ContinuityTest.finals
    check_transcript = test_continuity.ContinuityTest.check_transcript
    run_fault = test_continuity.ContinuityTest.run_fault

    def setUp(self):
        super().setUp()
        self.server = self.host = None

    def tearDown(self):
        test_continuity.ContinuityTest.tearDown(self)     # the key never logged
        if self.host is not None:
            # The host survived: it exited by our SIGTERM, with status 0.
            self.assertEqual(self.host.returncode, 0, self.host.describe())
            self.assertNotRegex(self.host.log, r"AddressSanitizer|runtime error:")

    def assert_cut_for_size(self):
        """The module closed conn 1 with 1009, as a retryable local limit."""
        self.assertRegex(self.server.out(), r"conn=1 (peer-close|closed) code=1009",
                         self.server.out()[-2000:])
        self.assertRegex(self.host.log, r"over the limit of 1048576 \(service\.max-message-kb\)")
        self.assertNotIn("-> failed", self.host.log)

    def test_an_oversized_text_message_costs_a_reconnect_not_a_word(self):
        self.run_fault("oversized@%d;bytes=%d" % (FAULT_AT_MS, OVER_LIMIT))
        self.assert_cut_for_size()

    def test_a_message_that_is_not_json_is_ignored_on_the_same_connection(self):
        # The fault server's garbage: a non-JSON text message, then a binary
        # one of exactly 1 MiB (at the limit: read, and ignored).
        wav, expected = self.make_tones(1)
        self.start("--fault", "1:garbage@%d" % FAULT_AT_MS)
        player = self.play(wav)
        self.check_transcript(expected, player, expected[-1]["end_ms"] / 1000)
        self.assertEqual(self.server.accepted(), 1, self.server.out()[-2000:])
        self.assertEqual(len(re.findall(r"bad message", self.host.log)), 1)

    def test_the_default_service_is_the_unix_socket_in_the_runtime_dir(self):
        fx = self.fx
        wav, expected = self.make_tones(1)
        sock_dir = fx.runtime_dir / "pipewire-transcribe"
        sock_dir.mkdir(mode=0o700)
        self.server = FaultServer(fx, "--socket", str(sock_dir / "server.sock"))
        # No service block: the embedded default, computed from XDG_RUNTIME_DIR.
        self.host = fx.start_module_host(
            MODULE, "{ taps = [ { name = c mode = tap target = %s } ] }" % fixture.PLAYER,
            debug="mod.transcribe:4")
        fx.wait_for_ports("transcribe.c", "in", 2)
        fx.wait_for(lambda: "-> streaming" in self.host.log, what="streaming")
        self.assertIn("service=embedded url=ws+unix://%s/server.sock:/transcribe-websocket"
                      % sock_dir, self.host.log)
        player = self.play(wav)
        self.check_transcript(expected, player, expected[-1]["end_ms"] / 1000)
        self.assertEqual(self.server.accepted(), 1)

    def test_without_a_runtime_dir_the_default_service_is_a_load_error(self):
        host = self.fx.start_module_host(
            MODULE, "{ taps = [ { name = c mode = sink } ] }", env={"XDG_RUNTIME_DIR": ""})
        self.assertNotEqual(host.wait_exit(timeout=10), 0)
        self.assertRegex(host.log, r"invalid argument service\.url: .*XDG_RUNTIME_DIR")


if __name__ == "__main__":
    fixture.main()
