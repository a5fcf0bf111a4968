#!/usr/bin/env python3
"""Continuity costs (numbers only, no pass/fail).

    bench_continuity.py [--short]

- catchup: the fault server is down for 60 s (--short: 5 s) while tone
  words play; once it is back, how fast the module works off the backlog:
  backlog seconds per wall second until its buffer is back to live (below
  1 s), and the audio sent per wall second meanwhile (× real time; the cap
  is buffer.replay-speed, 4).
- rss: the module host's resident memory, sampled every 5 s across an
  outage of 10 min (--short: 6 s, memory-sec 2) with buffer.memory-sec = 10, so all but
  the newest 10 s wait in the disk spool: it must stay flat.
- replay_ms_per_reconnect: audio sent again after a close 1011 mid-word
  (the module's "audio from stream_ms=… replay_ms=…" line): what each
  reconnect costs on the wire.
"""
import re
import sys
import time
from pathlib import Path

import bus
import fixture
from faultserver import FaultServer, SECRET, TONES

MODULE = "libpipewire-module-transcribe"
FREQS = ",".join(str(f) for f in range(300, 3400, 200))


def start(fx, server, extra=""):
    host = fx.start_module_host(
        MODULE, "{ service = { url = \"%s\" api-key.env = TRANSCRIBE_TEST_KEY } "
        "reconnect = { base-ms = 200 cap-ms = 1000 offline-probe-ms = 2000 } %s "
        "taps = [ { name = c mode = tap target = %s } ] }" % (server.url, extra, fixture.PLAYER),
        debug="mod.transcribe:4", env={"TRANSCRIBE_TEST_KEY": SECRET})
    fx.wait_for_ports("transcribe.c", "in", 2)
    fx.wait_for(lambda: "-> streaming" in host.log, what="streaming")
    return host


def play(fx, seconds):
    wav = fx.path("tones.wav")
    fx.run([sys.executable, str(TONES), str(wav), "--freqs", FREQS,
            "--repeat", str(int(seconds / 8.8) + 1)])
    player = fx.play(wav, channels=1)
    fx.link(fixture.PLAYER + ":output_MONO", fixture.SINK + ":playback_FL")
    return player


def buffered_ms(fx):
    v = bus.get_property(fx, "c", "BufferedMs")
    return v if v is not None else -1


def catchup(short):
    down = 5 if short else 60
    with fixture.PipeWireFixture() as fx:
        server = FaultServer(fx, "--key", SECRET)
        port = server.port
        host = start(fx, server)
        play(fx, down + 30)
        fx.wait_for(lambda: " final " in host.log, what="words")
        server.proc.terminate()
        time.sleep(down)   # the outage being measured
        FaultServer(fx, "--key", SECRET, "--port", str(port))
        fx.wait_for(lambda: host.log.count("-> streaming") >= 2, timeout=30, what="back")
        t0, backlog = time.monotonic(), buffered_ms(fx)
        fx.wait_for(lambda: 0 <= buffered_ms(fx) < 1000, timeout=down + 30, what="caught up",
                    )
        wall = time.monotonic() - t0
        host.terminate()
        print("continuity.catchup outage_s=%d backlog_s=%.1f wall_s=%.1f "
              "backlog_per_wall_s=%.2f sent_x_realtime=%.2f" % (
                  down, backlog / 1000, wall, backlog / 1000 / wall, (backlog / 1000 + wall) / wall))


def rss_kb(pid):
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def rss(short):
    down = 6 if short else 600
    memory = 2 if short else 10     # short: still spools, in less time
    with fixture.PipeWireFixture() as fx:
        server = FaultServer(fx, "--key", SECRET)
        host = start(fx, server, extra="buffer.memory-sec = %d" % memory)
        play(fx, down + 20)
        fx.wait_for(lambda: " final " in host.log, what="words")
        server.proc.terminate()
        samples, end = [], time.monotonic() + down
        while time.monotonic() < end:
            samples.append(rss_kb(host.pid))
            time.sleep(min(5, max(0.1, end - time.monotonic())))   # the sampling period
        dropped = bus.get_property(fx, "c", "DroppedMs")
        spooled = bus.get_property(fx, "c", "SpooledMs")
        host.terminate()
        print("continuity.rss_kb outage_s=%d memory_sec=%d first=%d max=%d last=%d samples=%d "
              "spooled_ms=%s dropped_ms=%s" % (down, memory, samples[0], max(samples),
                                              samples[-1], len(samples), spooled, dropped))


def replay_per_reconnect(short):
    runs = 1 if short else 5
    values = []
    for _ in range(runs):
        with fixture.PipeWireFixture() as fx:
            server = FaultServer(fx, "--key", SECRET, "--fault", "1:close=1011@3100")
            host = start(fx, server)
            play(fx, 8)
            fx.wait_for(lambda: re.search(r"conn=2 audio from stream_ms=\d+ replay_ms=\d+", host.log),
                        timeout=30, what="the replay")
            values.append(int(re.search(r"conn=2 audio from stream_ms=\d+ replay_ms=(\d+)",
                                        host.log).group(1)))
            host.terminate()
    values.sort()
    print("continuity.replay_ms_per_reconnect runs=%d median=%d min=%d max=%d" % (
        runs, values[len(values) // 2], values[0], values[-1]))


def main():
    short = "--short" in sys.argv
    replay_per_reconnect(short)
    catchup(short)
    rss(short)


if __name__ == "__main__":
    main()
