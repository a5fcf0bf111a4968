"""lines: a child's output read line by line on a thread, and waits for a
line with a deadline (no sleeps to synchronise). Stdlib only."""

import re
import threading
import time


class Lines:
    """Every line of stream, as it comes; wait() for one that matches."""

    def __init__(self, stream):
        self.lines, self.eof = [], False
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        for line in stream:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def text(self):
        with self.cond:
            return "\n".join(self.lines)

    def count(self):
        with self.cond:
            return len(self.lines)

    def grep(self, pattern):
        """Every match of the regex pattern, one per line at most."""
        rx = re.compile(pattern)
        with self.cond:
            return [m for m in map(rx.search, self.lines) if m]

    def wait(self, pattern, timeout=10.0, start=0):
        """The first match of the regex pattern in a line from index start on;
        AssertionError at the deadline or when the stream ends without one."""
        rx, deadline = re.compile(pattern), time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines[start:]:
                    m = rx.search(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    raise AssertionError("no line matching %r%s:\n%s" % (
                        pattern, " (the stream ended)" if self.eof else "", "\n".join(self.lines)))
                self.cond.wait(left)

    def join(self, timeout=10.0):
        self.thread.join(timeout)
