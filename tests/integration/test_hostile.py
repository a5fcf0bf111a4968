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
(a small bridge in this test forwards it to the fault server until
pw-transcribe-server listens there itself)."""

import os
import re
import socket
import threading
import unittest

import fixture
import test_continuity
from fixture import PipeWireTestCase
from test_session import FaultServer, SECRET

MODULE = "libpipewire-module-transcribe"
OVER_LIMIT = 1500000        # bytes: the crash was 1.05 MiB and up
FAULT_AT_MS = 3100          # mid-word, as in test_continuity


class UnixBridge:
    """Listens on a Unix socket and forwards each connection to a TCP port
    on 127.0.0.1, both ways, until close()."""

    def __init__(self, path, port):
        self.path, self.port = str(path), port
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(4)
        self.accepted = 0
        self.closing = False
        self.conns = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        while not self.closing:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            upstream = socket.create_connection(("127.0.0.1", self.port))
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                t = threading.Thread(target=self._pump, args=(a, b), daemon=True)
                t.start()
                self.threads.append(t)

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.closing = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self.threads:
            t.join(timeout=5)
        for c in self.conns:
            c.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


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

    @unittest.skipIf(os.environ.get("TRANSCRIBE_HOST_PRELOAD"),
                     "same code path as the text row; run in the normal pass")
    def test_an_oversized_binary_message_costs_a_reconnect_not_a_word(self):
        self.run_fault("garbage@%d;bytes=%d" % (FAULT_AT_MS, 2 * OVER_LIMIT))
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
        self.server = FaultServer(fx)
        sock_dir = fx.runtime_dir / "pipewire-transcribe"
        sock_dir.mkdir(mode=0o700)
        bridge = UnixBridge(sock_dir / "server.sock", self.server.port)
        self.addCleanup(bridge.close)
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
        self.assertEqual(bridge.accepted, 1)

    def test_without_a_runtime_dir_the_default_service_is_a_load_error(self):
        host = self.fx.start_module_host(
            MODULE, "{ taps = [ { name = c mode = sink } ] }", env={"XDG_RUNTIME_DIR": ""})
        self.assertNotEqual(host.wait_exit(timeout=10), 0)
        self.assertRegex(host.log, r"invalid argument service\.url: .*XDG_RUNTIME_DIR")


if __name__ == "__main__":
    fixture.main()
