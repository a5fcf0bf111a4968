#!/usr/bin/env python3
"""The module in a private PipeWire: each tap mode delivers the played audio
to the worker intact and on time, a broken argument fails the load naming
the key, and unloading while audio flows leaves no thread or fd behind."""

import os
import subprocess
from pathlib import Path

import fixture
from fixture import PipeWireTestCase, wav_compare

MIN_CORRELATION = 0.99
CLIP_MS = 5000
MODULE = "libpipewire-module-transcribe"


def peak(path):
    """Largest absolute S16 sample of a WAV file."""
    import array
    import wave
    with wave.open(str(path)) as w:
        a = array.array("h", w.readframes(w.getnframes()))
    return max(abs(x) for x in a)


def wav_data_bytes(path):
    try:
        return max(Path(path).stat().st_size - 44, 0)
    except FileNotFoundError:
        return 0


class TapModesTest(PipeWireTestCase):

    def start_host(self, taps):
        return self.fx.start_module_host(MODULE, "{ service.url = \"\" taps = [ %s ] }" % taps,
                                         debug="mod.transcribe:4")

    def play_clip_into_sink(self, player_targets):
        """Plays the clip, linked to player_targets, and waits for the player."""
        fx = self.fx
        clip, ref = fx.make_clip(CLIP_MS // 1000)
        player = fx.play(clip)
        for out_port, in_port in player_targets:
            fx.link(out_port, in_port)
        self.assertEqual(player.wait_exit(timeout=30), 0, player.describe())
        return ref

    def stop_host(self, host):
        """A clean stop finalizes the WAV; the worker's last drain is logged."""
        host.terminate()
        self.assertEqual(host.returncode, 0, host.describe())
        self.assertRegex(host.log, r"tap=\S+ stopped captured_ms=\d+")
        self.assertNotIn("AddressSanitizer", host.log)

    def assert_same_audio(self, ref, rec, what):
        m = wav_compare(ref, rec)
        quantum_ms = self.fx.max_quantum_ms()
        print("%s: %s (quantum %.1f ms)" % (what, m, quantum_ms))
        self.assertGreaterEqual(m["correlation"], MIN_CORRELATION, what)
        self.assertLessEqual(abs(m["active_ms"] - CLIP_MS), quantum_ms + 1, what)

    def check_mode_delivers_the_played_clip(self, mode):
        fx = self.fx
        rec = fx.path(mode + ".wav")
        host = self.start_host("{ name = %s mode = %s target = %s debug.record-file = \"%s\" }"
                               % (mode, mode, fixture.PLAYER, rec))
        fx.wait_for_ports("transcribe." + mode, "in", 2)
        # The module links the player into the tap itself; the sink drives.
        ref = self.play_clip_into_sink([(fixture.PLAYER + ":output_FL", fixture.SINK + ":playback_FL"),
                                        (fixture.PLAYER + ":output_FR", fixture.SINK + ":playback_FR")])
        self.stop_host(host)
        self.assert_same_audio(ref, rec, mode)

    def test_tap_mode_delivers_the_played_clip(self):
        self.check_mode_delivers_the_played_clip("tap")

    def test_source_mode_delivers_the_played_clip(self):
        self.check_mode_delivers_the_played_clip("source")

    def test_mono_source_is_not_amplified(self):
        """A MONO port feeds only the tap's first input: fed to FL and FR,
        the equal-power downmix made it 3 dB louder (clipping loud sources)."""
        fx = self.fx
        clip, ref = fx.make_clip(2)
        mono = fx.path("mono.wav")
        fx.run(["sox", "-R", "-D", clip, mono, "remix", "1-2"])
        rec = fx.path("mono-rec.wav")
        host = self.start_host("{ name = m mode = tap target = %s debug.record-file = \"%s\" }"
                               % (fixture.PLAYER, rec))
        fx.wait_for_ports("transcribe.m", "in", 2)
        player = fx.play(mono, channels=1)
        fx.link(fixture.PLAYER + ":output_MONO", fixture.SINK + ":playback_FL")
        self.assertEqual(player.wait_exit(timeout=30), 0, player.describe())
        self.stop_host(host)
        self.assertLessEqual(peak(rec), peak(ref) * 1.05)
        self.assertGreater(peak(rec), peak(ref) * 0.5)

    def test_sink_mode_transcribes_and_plays_through(self):
        fx = self.fx
        rec = fx.path("sink.wav")
        heard = fx.path("heard.wav")
        host = self.start_host("{ name = c mode = sink target = %s debug.record-file = \"%s\" }"
                               % (fixture.SINK, rec))
        fx.wait_for_ports("transcribe.c", "in", 2)
        fx.wait_for_ports("transcribe.c.capture", "in", 2)
        # What reaches the default output (test-sink) is recorded from its monitor.
        recorder = fx.record(heard)
        fx.link(fixture.SINK + ":monitor_FL", fixture.RECORDER + ":input_MONO")
        fx.link(fixture.SINK + ":monitor_FR", fixture.RECORDER + ":input_MONO")
        # The play-through is an app stream like any other: a session
        # manager links it; in the bare graph the test does.
        fx.wait_for_ports("transcribe.c.playback", "out", 2)
        for ch in ("FL", "FR"):
            fx.link("transcribe.c.playback:output_" + ch, fixture.SINK + ":playback_" + ch)
        ref = self.play_clip_into_sink([(fixture.PLAYER + ":output_FL", "transcribe.c:playback_FL"),
                                        (fixture.PLAYER + ":output_FR", "transcribe.c:playback_FR")])
        # The sink runs on with silence; wait until the clip is fully through.
        need = CLIP_MS * 32
        fx.wait_for(lambda: wav_data_bytes(heard) >= need and wav_data_bytes(rec) >= need,
                    timeout=20, what="clip through sink and monitor")
        recorder.terminate()
        self.stop_host(host)
        self.assert_same_audio(ref, rec, "sink (transcribed)")
        m = wav_compare(ref, heard)
        print("sink (played through): %s" % m)
        self.assertGreaterEqual(m["correlation"], MIN_CORRELATION)


class ModuleLoadTest(PipeWireTestCase):

    def test_broken_argument_fails_the_load_naming_the_key(self):
        host = self.fx.start_module_host(MODULE, "{ taps = [ { name = a mode = loud } ] }")
        rc = host.wait_exit(timeout=10)
        self.assertNotEqual(rc, 0)
        lines = [l for l in host.log.splitlines() if "taps[0].mode" in l]
        self.assertEqual(len(lines), 1, host.log)
        self.assertIn('"loud" is not one of tap, sink, source', lines[0])

    def test_unload_while_audio_flows_leaves_no_thread_or_fd(self):
        """Loads the tap, plays into it, unloads mid-clip; twice, so one-time
        library state (lws, dlopen) is part of the first round's numbers."""
        fx = self.fx
        env = fx.module_env()
        args = "{ service.url = \"\" taps = [ { name = u mode = tap target = %s } ] }" % fixture.PLAYER
        cycler = subprocess.Popen([os.environ["MODULE_CYCLER"], args], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                  env=env, start_new_session=True)
        self.addCleanup(cycler.kill)

        def say(cmd):
            cycler.stdin.write(cmd + "\n")
            cycler.stdin.flush()
            line = cycler.stdout.readline().strip()
            self.assertFalse(line.startswith("error"), line)
            return line

        self.assertTrue(cycler.stdout.readline().startswith("ready"))
        clip, _ = fx.make_clip(5)
        after = []
        for _ in range(2):
            self.assertEqual(say("load"), "loaded")
            fx.wait_for(lambda: len(fx.ports("transcribe.u", "in")) >= 2, what="tap ports")
            player = fx.play(clip)
            fx.link(fixture.PLAYER + ":output_FL", fixture.SINK + ":playback_FL")
            fx.wait_for(lambda: any(i and i.startswith("transcribe.u:") for o, i in fx.links()),
                        what="audio flowing into the tap")
            after.append(say("unload"))
            self.assertIsNone(player.returncode, "clip ended before the unload")
            player.terminate()
            fx.wait_for(lambda: not fx.node_exists("transcribe.u"), what="tap node gone")
        print("after each unload: %s" % after)
        self.assertEqual(after[0], after[1])
        cycler.stdin.write("quit\n")
        cycler.stdin.flush()
        self.assertEqual(cycler.wait(timeout=10), 0)


if __name__ == "__main__":
    fixture.main()
