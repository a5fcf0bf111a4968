#!/usr/bin/env python3
"""Real-time factors of pw-transcribe-server (numbers only, no pass/fail).

    TRANSCRIBE_SERVER=... FAULT_CLIENT=... bench_server.py [--short]

The clip (the five LibriVox sentences of pocketsphinx-testdata, 1 s apart,
~29 s; --short: goforward.raw, 2.8 s) is streamed as fast as the server
takes it (fault-client --speed 0), by one connection and by four at once:

- rtf_wall: client wall time (connect .. close) / audio duration. Below 1
  means faster than real time; with four connections it is per connection.
- rtf_cpu: the decoder thread's CPU time / audio (the server's "stats"
  line; decoder creation left out).
- model_load_ms: creating one decoder (ps_init with the en-us model), at
  startup.
- ready_ms_4_fresh: how long each of four connections that arrive together
  waits for its decoder when none is spare (creation is serialized); later
  rounds reuse the four spare decoders (--spare-decoders 4) and wait 0.

Prints "server.<name> runs=N median=X min=X max=X" lines. Exits 77 (meson:
skipped) without the binaries, sox or the test data.
"""
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import test_server as ts  # noqa: E402

CONCURRENT = 4


def make_clip(work, short):
    gf = work / "goforward.wav"
    ts.sox("-t", "raw", "-r", "16000", "-e", "signed", "-b", "16", "-c", "1",
           ts.TESTDATA / "goforward.raw", gf)
    if short:
        return gf
    silence = work / "silence1.wav"
    ts.write_silence(silence, 1)
    args = []
    for c in ts.LIBRIVOX:
        args += [ts.TESTDATA / "librivox" / ("sense_and_sensibility_01_austen_64kb-%s.wav" % c), silence]
    clip = work / "librivox.wav"
    ts.sox(*args, clip)
    return clip


def audio_seconds(path):
    import wave
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def timed_client(server, clip, out, i):
    t0 = time.monotonic()
    r = ts.run_client(server, "--wav", clip, "--speed", "0", timeout=600)
    out[i] = (time.monotonic() - t0, r)


def round_of(server, clip, n):
    """n concurrent connections; returns their (wall_s, Result)."""
    out = [None] * n
    threads = [threading.Thread(target=timed_client, args=(server, clip, out, i)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for wall, r in out:
        if r.rc != 0:
            raise SystemExit("bench: a connection failed:\n%s" % r.out)
    return out


def server_stats(server, first_conn, last_conn):
    """rtf and init_ms of the connections in [first_conn, last_conn]."""
    rtf, init = [], []
    for line in server.log().splitlines():
        m = re.match(r"conn=(\d+) stats .*init_ms=(\d+) rtf=([\d.]+)", line)
        if m and first_conn <= int(m.group(1)) <= last_conn:
            init.append(int(m.group(2)))
            rtf.append(float(m.group(3)))
    return rtf, init


def wait_stats(server, first_conn, last_conn):
    # a decoder thread logs its stats after its connection closed
    for c in range(first_conn, last_conn + 1):
        server.wait_log("conn=%d stats" % c)


def report(name, values, fmt="%.3f"):
    print(("server.%s runs=%d median=" + fmt + " min=" + fmt + " max=" + fmt) % (
        name, len(values), statistics.median(values), min(values), max(values)), flush=True)


def main():
    short = "--short" in sys.argv
    if not ts.SERVER or not ts.CLIENT:
        print("TRANSCRIBE_SERVER and FAULT_CLIENT must name the binaries; skipping")
        return 77
    if not shutil.which("sox") or not (ts.TESTDATA / "goforward.raw").exists():
        print("needs sox and pocketsphinx-testdata; skipping")
        return 77
    runs = 1 if short else 3
    with tempfile.TemporaryDirectory(prefix="server-bench-") as tmp:
        clip = make_clip(Path(tmp), short)
        secs = audio_seconds(clip)
        print("server.clip audio_s=%.1f file=%s" % (secs, clip.name), flush=True)
        server = ts.Server("--spare-decoders", str(CONCURRENT), "--max-connections", str(CONCURRENT))
        conn = 0
        try:
            # first round: fresh decoders (creation time), not counted in the RTFs
            # stderr is read by a thread: the line may trail the listening line.
            server.wait_log("model loaded init_ms=")
            m = re.search(r"model loaded init_ms=(\d+)", server.log())
            report("model_load_ms", [int(m.group(1))], "%.0f")
            round_of(server, clip, CONCURRENT)
            wait_stats(server, 1, CONCURRENT)
            _, init = server_stats(server, 1, CONCURRENT)
            report("ready_ms_%d_fresh" % CONCURRENT, init, "%.0f")
            conn = CONCURRENT

            for n in (1, CONCURRENT):
                walls, first = [], conn + 1
                for _ in range(runs):
                    for wall, _r in round_of(server, clip, n):
                        walls.append(wall / secs)
                    conn += n
                wait_stats(server, first, conn)
                rtf, _ = server_stats(server, first, conn)
                report("connections_%d.rtf_wall" % n, walls)
                report("connections_%d.rtf_cpu" % n, rtf)
        finally:
            rc = server.stop()
        if rc != 0:
            print("bench: server exit status %d:\n%s" % (rc, server.log()))
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
