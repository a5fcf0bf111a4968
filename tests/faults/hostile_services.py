"""The hostile-service rows (issue 18): fault-server specs that make it a
broken or malicious speech-to-text service, for tests that drive a client
(the module) against each one. The specs are documented at the top of
fault-server.c and in README.md; every row here is checked there by
test_fault_server.py.

    import hostile_services as hs
    for row in hs.ROWS:
        srv = hs.start(row.spec)          # or: your fixture, with row.args()
        ... drive the client at srv.url, judge by row.expect ...
        srv.stop()

ROWS[i].spec fires once the connection has received AT_MS of audio (a
spec applies to connection 1 only: the reconnection that follows is a
normal one, so "recovers" can be checked). Stdlib only.
"""

import collections
import os

from serverproc import ServerProcess

AT_MS = 1000

Row = collections.namedtuple("Row", "name spec expect")


def _rows():
    rows = []
    for size in (1100000, 1500000, 3000000, 50000000):
        mb = "%.2f MB" % (size / 1e6)
        rows.append(Row("text message of " + mb, "oversized@%d;bytes=%d" % (AT_MS, size),
                        "no crash; over the client's limit: dropped, close 1009, reconnect"))
        rows.append(Row("binary message of " + mb, "bigbinary@%d;bytes=%d" % (AT_MS, size),
                        "no crash; over the limit: dropped, close 1009, reconnect"))
    rows.append(Row("100k tokens in one message", "tokens@%d;count=100000" % AT_MS,
                    "no crash; bounded memory; within the limit: the words journaled once"))
    for v, what in (("huge", "2^40 times"), ("negative", "negative times"),
                    ("reversed", "start > end"), ("beyond", "times past the audio sent"),
                    ("float", "1.5e300 times"), ("string", "times that are strings"),
                    ("decreasing", "a final earlier than the one before"),
                    ("progress", "final_audio_proc_ms = 2^40")):
        rows.append(Row("token " + what, "times=%s@%d" % (v, AT_MS),
                        "rejected or clamped, logged once; later finals still published"))
    rows.append(Row("text not UTF-8", "badutf8@%d" % AT_MS,
                    "no crash; protocol error (1007) or the token dropped"))
    rows.append(Row("endless partials", "partials@%d;count=100000" % AT_MS,
                    "bounded CPU and publishing rate; no final invented"))
    rows.append(Row("a million finals", "finals@%d;count=1000000" % AT_MS,
                    "bounded journal and log; no crash"))
    rows.append(Row("a million finals past the audio", "finals@%d;count=1000000;step=1" % AT_MS,
                    "dropped as beyond the audio sent, logged once"))
    rows.append(Row("ping flood", "pings@%d;count=100000" % AT_MS,
                    "answered or ignored, no crash, bounded log"))
    for code in ("0", "999", "1004", "1005", "1006", "1015", "2999", "5000", "65535",
                 "short", "empty"):
        rows.append(Row("close code " + code, "rawclose=%s@%d" % (code, AT_MS),
                        "treated as a protocol error (1002), reconnect"))
    for code in (400, 401, 402, 404, 408, 429, 500, 503):
        rows.append(Row("error %d after the upgrade" % code, "error=%d@%d" % (code, AT_MS),
                        "classified as PROTOCOLS.md A says (fatal, refresh, retry)"))
    return rows


ROWS = _rows()


class FaultServer(ServerProcess):
    """fault-server with one spec for connection 1, on a free loopback port."""

    def __init__(self, spec, *args, binary=None, index=1):
        super().__init__([binary or os.environ["FAULT_SERVER"], "--no-stdin",
                          "--fault", "%d:%s" % (index, spec), *args])


def start(spec, *args, **kw):
    """A fault-server (FAULT_SERVER) in one hostile mode: see ROWS."""
    return FaultServer(spec, *args, **kw)
