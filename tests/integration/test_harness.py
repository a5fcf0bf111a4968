#!/usr/bin/env python3
"""The harness itself, proven with pw-play/pw-record standing in for the module:
audio crosses the private graph intact, module hosts start and stop, and
teardown leaves nothing behind."""

import signal
import unittest

import fixture
from fixture import PipeWireFixture, PipeWireTestCase, wav_compare, wait_for

MIN_CORRELATION = 0.99
TAIL_BYTES = 4096 // 3 * 2      # two 2048-frame 48 kHz quanta, as 16 kHz mono S16


class AudioPathTest(PipeWireTestCase):

    def record_playback(self, recorder_sources):
        """Play the clip into test-sink while test-recorder (16 kHz mono S16)
        records from recorder_sources; returns wav-compare's numbers."""
        fx = self.fx
        clip, ref = fx.make_clip()
        rec_path = fx.path("rec.wav")
        rec = fx.record(rec_path)
        sources_exist_now = [p for p in recorder_sources if p.startswith(fixture.SINK)]
        for port in sources_exist_now:
            fx.link(port, fixture.RECORDER + ":input_MONO")
        player = fx.play(clip)
        for port in recorder_sources:
            if port not in sources_exist_now:
                fx.link(port, fixture.RECORDER + ":input_MONO")
        # Linking to the driver last starts the player with everything in place.
        fx.link(fixture.PLAYER + ":output_FL", fixture.SINK + ":playback_FL")
        fx.link(fixture.PLAYER + ":output_FR", fixture.SINK + ":playback_FR")
        self.links_while_playing = fx.links()

        self.assertEqual(player.wait_exit(timeout=20), 0, fx.describe())
        size = rec_path.stat().st_size
        # Driven by the sink, the recorder goes on: wait for a full cycle after
        # the clip. Fed by the player alone, it stops being scheduled with it.
        fx.wait_for(lambda: rec_path.stat().st_size >= size + TAIL_BYTES
                    or not self.recorder_linked(), 5,
                    "the recorder to capture the tail of the clip")
        rec.terminate()   # pw-record 0.3.65 exits 1 on SIGTERM, header finalized
        m = wav_compare(ref, rec_path)
        print("%s: %s" % (self.id().rsplit(".", 1)[-1], m))
        return m

    def recorder_linked(self):
        return any(dst and dst.startswith(fixture.RECORDER + ":") for _, dst in self.fx.links())

    def assert_clip_intact(self, m):
        quantum_ms = self.fx.max_quantum_ms()
        self.assertGreaterEqual(m["correlation"], MIN_CORRELATION, m)
        self.assertLessEqual(abs(m["active_ms"] - m["ref_ms"]), quantum_ms, m)

    def test_sink_has_playback_and_monitor_ports(self):
        self.assertEqual(sorted(self.fx.ports(fixture.SINK)),
                         ["test-sink:monitor_FL", "test-sink:monitor_FR",
                          "test-sink:playback_FL", "test-sink:playback_FR"])

    def test_clip_recorded_from_sink_monitor_matches_reference(self):
        m = self.record_playback(["test-sink:monitor_FL", "test-sink:monitor_FR"])
        self.assert_clip_intact(m)

    def test_player_output_fans_out_to_sink_and_recorder(self):
        m = self.record_playback(["test-player:output_FL", "test-player:output_FR"])
        self.assert_clip_intact(m)
        fan_out = {("test-player:output_FL", "test-sink:playback_FL"),
                   ("test-player:output_FL", "test-recorder:input_MONO")}
        self.assertLessEqual(fan_out, self.links_while_playing)


class ModuleHostTest(PipeWireTestCase):

    LOOPBACK_ARGS = {
        "audio.position": ["FL", "FR"],
        "capture.props": {"node.name": "test-loop-in"},
        "playback.props": {"node.name": "test-loop-out"},
    }

    def test_module_host_node_appears_and_goes_away_on_terminate(self):
        host = self.fx.start_module_host("libpipewire-module-loopback", self.LOOPBACK_ARGS)
        props = self.fx.wait_for_node("test-loop-in")
        self.assertEqual(props["node.name"], "test-loop-in")
        self.assertTrue(host.running, host.describe())
        host.terminate()
        self.fx.wait_for(lambda: not self.fx.node_exists("test-loop-in"), what="test-loop-in to go")

    def test_module_host_with_unknown_module_exits_with_its_error(self):
        host = self.fx.start_module_host("libpipewire-module-does-not-exist", {"a": 1})
        self.assertNotEqual(host.wait_exit(timeout=10), 0)
        self.assertIn("libpipewire-module-does-not-exist", host.log)

    def test_module_host_finds_modules_in_the_build_tree_first(self):
        host = self.fx.start_module_host("libpipewire-module-loopback", self.LOOPBACK_ARGS)
        self.fx.wait_for_node("test-loop-in")
        with open("/proc/%d/environ" % host.pid, "rb") as f:
            env = f.read().split(b"\0")
        module_dir = [e for e in env if e.startswith(b"PIPEWIRE_MODULE_DIR=")][0].decode()
        self.assertTrue(module_dir.startswith("PIPEWIRE_MODULE_DIR=%s/module:"
                                              % self.fx.build_dir), module_dir)


class FixtureTest(unittest.TestCase):

    def test_wait_for_timeout_names_what_it_waited_for(self):
        with self.assertRaisesRegex(AssertionError, "waiting for the impossible"):
            wait_for(lambda: False, 0.05, "the impossible")

    def test_a_dead_daemon_is_named_in_wait_failures(self):
        with PipeWireFixture(sink=False) as fx:
            fx.daemon.terminate()
            with self.assertRaisesRegex(AssertionError, r"pipewire daemon is gone \(rc=0"):
                fx.wait_for(lambda: False, 0.05, "anything")

    def test_daemons_are_not_named_pipewire_so_pkill_misses_them(self):
        with PipeWireFixture() as fx:
            host = fx.start_module_host("libpipewire-module-loopback", ModuleHostTest.LOOPBACK_ARGS)
            fx.wait_for_node("test-loop-in")
            for proc in (fx.daemon, host):
                with open("/proc/%d/comm" % proc.pid) as f:
                    comm = f.read().strip()
                with open("/proc/%d/cmdline" % proc.pid, "rb") as f:
                    cmdline = f.read().decode()
                self.assertIn(comm, (fixture.DAEMON_EXE, fixture.HOST_EXE))
                self.assertNotIn("pipewire", cmdline)

    def test_children_see_only_the_private_session(self):
        with PipeWireFixture(sink=False) as fx:
            env = fx.run(["env"]).stdout
            self.assertIn("XDG_RUNTIME_DIR=%s\n" % fx.runtime_dir, env)
            self.assertIn("DBUS_SESSION_BUS_ADDRESS=unix:path=%s/bus" % fx.runtime_dir, env)
            self.assertNotIn("PIPEWIRE_REMOTE", env)
            self.assertFalse(fx.node_exists(fixture.SINK))

    def test_teardown_leaves_no_process_behind(self):
        fx = PipeWireFixture()
        fx.start()
        try:
            clip, _ = fx.make_clip(seconds=1)
            fx.record(fx.path("rec.wav"))
            fx.play(clip)
            fx.start_module_host("libpipewire-module-loopback", ModuleHostTest.LOOPBACK_ARGS)
            fx.wait_for_node("test-loop-in")
            pids = [p.pid for p in fx.procs]
            self.assertEqual(len(pids), 5)   # dbus, pipewire, recorder, player, host
            self.assertEqual(sorted(fx.private_processes()), sorted(pids))
            tmp = fx.tmp
        finally:
            fx.stop()
        self.assertEqual(fx.leftovers, [])
        self.assertEqual(fx.private_processes(), [])
        self.assertTrue(all(p.returncode is not None for p in fx.procs))
        self.assertFalse(tmp.exists())

    def test_teardown_runs_when_the_test_body_raises(self):
        with self.assertRaises(RuntimeError):
            with PipeWireFixture() as fx:
                fx.record(fx.path("rec.wav"))
                raise RuntimeError("test body failed")
        self.assertEqual(fx.private_processes(), [])
        self.assertTrue(all(p.returncode is not None for p in fx.procs))

    def test_terminate_escalates_to_sigkill(self):
        with PipeWireFixture(sink=False) as fx:
            ready = fx.path("ready")
            stubborn = fx.spawn("stubborn", ["sh", "-c", "trap '' TERM; touch %s; "
                                             "while :; do sleep 0.05; done" % ready])
            fx.wait_for(ready.exists, what="the stubborn shell to ignore SIGTERM")
            self.assertEqual(stubborn.terminate(timeout=0.3), -signal.SIGKILL)
        self.assertEqual(fx.private_processes(), [])


if __name__ == "__main__":
    fixture.main()
