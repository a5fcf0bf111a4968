"""fault-server (tests/faults) as a child of a PipeWire test fixture, and the
tone material its recognizer turns into words: for the integration tests and
benches that run the module against it."""

import os
import re
from pathlib import Path

from serverproc import FixtureServer

# make-tones.py writes tone bursts and prints the words they become.
TONES = Path(__file__).resolve().parent.parent / "faults" / "make-tones.py"
# A key the tests hand the module; it must never appear in a log or journal.
SECRET = "sk-test-0123456789-do-not-log"
# The words of make-tones.py's default bursts, in order.
WORDS = ["w300", "w500", "w700", "w900"]


class FaultServer(FixtureServer):
    """fault-server as a child of the fixture; its stdout is the event log.
    `prefix` runs it through a wrapper (e.g. `ip netns exec NS`)."""

    def __init__(self, fx, *args, prefix=()):
        super().__init__(fx, "fault-server", [os.environ["FAULT_SERVER"], "--no-stdin", *args],
                         prefix=prefix)

    def max_open(self):
        return max([int(k) for k in re.findall(r"connections open=(\d+)", self.out())] or [0])

    def accepted(self):
        return len(re.findall(r"^conn=\d+ accept ", self.out(), re.M))

    def finals(self):
        return re.findall(r"^conn=\d+ final text=(\S+)", self.out(), re.M)
