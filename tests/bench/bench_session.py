#!/usr/bin/env python3
"""Session timings against tests/faults/fault-server (numbers only, no pass/fail).

    bench_session.py [--short]

- reconnect_after_restart_ms: the server is killed and started again on the
  same port; time from its new `listening` line to the module's `streaming`
  (default backoff; the retry timer decides most of it).
- reconnect_after_1012_ms: the server closes with 1012 (service restart;
  lws 4.1 shows it as 1002) and comes back at once: close to `streaming`.
- half_open_detect_ms: the server stalls (reads nothing, answers no ping);
  time until the module drops the socket, with the default liveness policy
  (a numbered ping every 500 ms, 2 s for its pong: at most 2.5 s).
- last_word_final_ms: the player stops in the middle of a word; time from
  the audio's end (the last speech reaching the worker: the finalize line
  says how long before it that was) to the word's final
  (liveness.idle-finalize-ms, 1500).

Times come from PipeWire's log timestamps, compared with fixture.log_clock()
(CLOCK_MONOTONIC_RAW, the clock PipeWire 0.3.65 stamps its log with).
"""
import re
import statistics
import sys
import wave

import fixture
from faultserver import FaultServer, SECRET, TONES

MODULE = "libpipewire-module-transcribe"


def start(fx, server, extra=""):
    args = ("{ service = { url = \"%s\" api-key.env = TRANSCRIBE_TEST_KEY } %s "
            "taps = [ { name = b mode = tap target = %s } ] }" % (server.url, extra, fixture.PLAYER))
    host = fx.start_module_host(MODULE, args, debug="mod.transcribe:4",
                                env={"TRANSCRIBE_TEST_KEY": SECRET})
    fx.wait_for_ports("transcribe.b", "in", 2)
    tones = fx.path("tones.wav")
    if not tones.exists():
        fx.run([sys.executable, str(TONES), tones, "--repeat", "40"])
    fx.play(tones, channels=1)
    fx.link(fixture.PLAYER + ":output_MONO", fixture.SINK + ":playback_FL")
    return host


stamps = fixture.log_stamps


def wait_count(fx, host, pattern, n, timeout=40):
    fx.wait_for(lambda: len(stamps(host.log, pattern)) >= n, timeout=timeout,
                what="%d× %s" % (n, pattern))


def reconnect_after_restart(fx):
    server = FaultServer(fx, "--key", SECRET)
    host = start(fx, server)
    wait_count(fx, host, r"-> streaming", 1)
    server.proc.terminate()
    wait_count(fx, host, r"-> reconnecting", 1)
    # Let a few attempts fail so the backoff is in its usual regime.
    wait_count(fx, host, r"-> connecting", 3)
    server = FaultServer(fx, "--key", SECRET, "--port", str(server.port))
    up = fixture.log_clock()
    wait_count(fx, host, r"-> streaming", 2)
    return (stamps(host.log, r"-> streaming")[1] - up) * 1000


def reconnect_after_1012(fx):
    server = FaultServer(fx, "--key", SECRET, "--fault", "1:close=1012@1000")
    host = start(fx, server)
    wait_count(fx, host, r"-> streaming", 2)
    gone = stamps(host.log, r"socket gone")[0]
    return (stamps(host.log, r"-> streaming")[1] - gone) * 1000


def half_open_detect(fx):
    server = FaultServer(fx, "--key", SECRET, "--fault", "1:stall@1000")
    host = start(fx, server)
    fx.wait_for(lambda: "stall begin" in server.out(), timeout=20, what="stall")
    stalled = fixture.log_clock()
    wait_count(fx, host, r"conn=1 socket gone", 1)
    return (stamps(host.log, r"conn=1 socket gone")[0] - stalled) * 1000


def last_word_final(fx):
    server = FaultServer(fx, "--key", SECRET)
    args = ("{ service = { url = \"%s\" api-key.env = TRANSCRIBE_TEST_KEY } "
            "taps = [ { name = b mode = tap target = %s } ] }" % (server.url, fixture.PLAYER))
    host = fx.start_module_host(MODULE, args, debug="mod.transcribe:4",
                                env={"TRANSCRIBE_TEST_KEY": SECRET})
    fx.wait_for_ports("transcribe.b", "in", 2)
    tones = fx.path("cut.wav")
    fx.run([sys.executable, str(TONES), tones,
            "--freqs", "300,700", "--tail-ms", "0"])
    with wave.open(str(tones), "rb") as w:     # end 200 ms into the last word
        params, frames = w.getparams(), w.readframes(w.getnframes())
    with wave.open(str(tones), "wb") as w:     # (its 250 ms, then a 300 ms gap)
        w.setparams(params)
        w.writeframes(frames[:len(frames) - 350 * params.framerate // 1000 * params.sampwidth])
    player = fx.play(tones, channels=1)
    fx.link(fixture.PLAYER + ":output_MONO", fixture.SINK + ":playback_FL")
    player.wait_exit(timeout=30)
    wait_count(fx, host, r" final start_ms=", 2, timeout=20)
    wait_count(fx, host, r"finalize reason=", 1, timeout=20)
    finalize = re.search(r'^\[\w\]\[(\d+\.\d+)\].*finalize reason="no speech" silent_ms=(\d+)',
                         host.log, re.M)
    audio_end = float(finalize.group(1)) - int(finalize.group(2)) / 1000
    return (stamps(host.log, r" final start_ms=")[1] - audio_end) * 1000


def main():
    runs = 1 if "--short" in sys.argv else 5
    for name, fn in (("reconnect_after_restart_ms", reconnect_after_restart),
                     ("reconnect_after_1012_ms", reconnect_after_1012),
                     ("half_open_detect_ms", half_open_detect),
                     ("last_word_final_ms", last_word_final)):
        values = []
        for _ in range(runs):
            with fixture.PipeWireFixture() as fx:
                values.append(fn(fx))
        print("session.%s runs=%d median=%.0f min=%.0f max=%.0f" % (
            name, runs, statistics.median(values), min(values), max(values)))


if __name__ == "__main__":
    main()
