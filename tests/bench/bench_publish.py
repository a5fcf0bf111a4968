#!/usr/bin/env python3
"""Publishing costs (numbers only, no pass/fail).

    bench_publish.py [--short]

- final_to_dbus_ms / final_to_metadata_ms: the module logs each final token
  as the worker parses it; a client on the bus (busctl monitor) and one on
  PipeWire (pw-metadata -m) stamp the Final signal and the transcribe.final
  update as they read them. Both stamps are CLOCK_MONOTONIC_RAW, the clock
  of PipeWire 0.3.65's log.
- main_thread_cpu_pct with 8 taps: eight taps on one player, each streaming
  to the fault server, which sends a partial every 100 ms of audio per
  connection; CPU time of the module host's main thread (D-Bus, metadata,
  PipeWire's own main-loop work) and of the worker thread over a window,
  in % of one core.
"""
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import fixture
from faultserver import FaultServer, SECRET, TONES

MODULE = "libpipewire-module-transcribe"
CLK_TCK = os.sysconf("SC_CLK_TCK")


class StampedReader:
    """A child's stdout, each line stamped with log_clock() when read."""

    def __init__(self, fx, args):
        self.lines = []
        self.proc = subprocess.Popen(["stdbuf", "-oL", *args], env=fx.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, bufsize=1)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append((fixture.log_clock(), line))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(5)


def start(fx, server, n_taps):
    taps = " ".join("{ name = t%d mode = tap target = %s }" % (i, fixture.PLAYER)
                    for i in range(n_taps))
    host = fx.start_module_host(
        MODULE, "{ service = { url = \"%s\" api-key.env = TRANSCRIBE_TEST_KEY } taps = [ %s ] }"
        % (server.url, taps), debug="mod.transcribe:3", env={"TRANSCRIBE_TEST_KEY": SECRET})
    for i in range(n_taps):
        fx.wait_for_ports("transcribe.t%d" % i, "in", 2)
    return host


def play(fx, repeat):
    tones = fx.path("tones.wav")
    fx.run([sys.executable, str(TONES), tones, "--repeat", str(repeat)])
    player = fx.play(tones, channels=1)
    fx.link(fixture.PLAYER + ":output_MONO", fixture.SINK + ":playback_FL")
    return player


def report(name, values, unit):
    values = sorted(values)
    if not values:
        print("publish.%s n=0" % name)
        return
    mid = values[len(values) // 2]
    p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
    print("publish.%s n=%d median=%.2f p90=%.2f max=%.2f %s" % (name, len(values), mid, p90,
                                                                values[-1], unit))


def latencies(short):
    with fixture.PipeWireFixture() as fx:
        server = FaultServer(fx, "--key", SECRET)
        dbus = StampedReader(fx, ["busctl", "--user", "monitor", "--json=short"])
        host = start(fx, server, 1)
        meta = StampedReader(fx, ["pw-metadata", "-m", "-n", "transcribe"])
        n = 4 if short else 24
        play(fx, 2 if short else 10)
        fx.wait_for(lambda: len(re.findall(r' final start_ms', host.log)) >= n, timeout=120,
                    what="%d finals" % n)
        fx.wait_for(lambda: sum('"Final"' in l for _, l in dbus.lines) >= n, what="signals")
        fx.wait_for(lambda: sum("transcribe.final" in l for _, l in meta.lines) >= n,
                    what="metadata updates")
        host.terminate()
        dbus.stop()
        meta.stop()
        logged = fixture.log_stamps(host.log, r" final start_ms")
        sig = [t for t, l in dbus.lines if '"member":"Final"' in l]
        md = [t for t, l in meta.lines if "key:'transcribe.final'" in l]
        report("final_to_dbus_ms", [(s - w) * 1000 for w, s in zip(logged, sig)], "ms")
        report("final_to_metadata_ms", [(m - w) * 1000 for w, m in zip(logged, md)], "ms")


def thread_ticks(pid):
    """{thread name: utime + stime ticks} of every thread of pid."""
    out = {}
    for task in Path("/proc/%d/task" % pid).iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        key = "main" if int(task.name) == pid else name
        out[key] = out.get(key, 0) + int(fields[11]) + int(fields[12])
    return out


def main_thread_cpu(short, n_taps=8):
    window = 3 if short else 15
    with fixture.PipeWireFixture() as fx:
        server = FaultServer(fx, "--key", SECRET)
        dbus = StampedReader(fx, ["busctl", "--user", "monitor", "--json=short"])
        host = start(fx, server, n_taps)
        play(fx, 4 if short else 12)
        fx.wait_for(lambda: len(re.findall(r"-> streaming", host.log)) >= n_taps, timeout=30,
                    what="all taps streaming")
        fx.wait_for(lambda: len(server.finals()) >= n_taps, timeout=30, what="words flowing")
        pid = host.pid
        before, t0 = thread_ticks(pid), time.monotonic()
        time.sleep(window)  # the measurement window itself, not a synchronisation
        after, t1 = thread_ticks(pid), time.monotonic()
        host.terminate()
        dbus.stop()
        raw0, raw1 = fixture.log_clock() - (time.monotonic() - t0), fixture.log_clock() - (time.monotonic() - t1)
        partials = sum(1 for t, l in dbus.lines if '"member":"Partial"' in l and raw0 <= t <= raw1)
        print("publish.partial_signals_per_s taps=%d value=%.1f" % (n_taps, partials / (t1 - t0)))
        for name in ("main", "pw-transcribe"):
            pct = (after.get(name, 0) - before.get(name, 0)) / CLK_TCK / (t1 - t0) * 100
            print("publish.%s_thread_cpu_pct taps=%d window_s=%.0f value=%.1f" % (
                name.replace("-", "_"), n_taps, t1 - t0, pct))


def main():
    short = "--short" in sys.argv
    latencies(short)
    main_thread_cpu(short)


if __name__ == "__main__":
    main()
