#!/usr/bin/env python3
"""Link up -> `streaming` after a link flap, with network awareness on and
off (tests/integration/test_netns.py does the flap), 5 runs each. With
awareness the first link change is acted on at once (the debounce only
swallows the flaps after it). Numbers only.

    bench_netns.py [--short]        needs root and ip netns (else prints why)
"""
import statistics
import sys

import fixture
from netpair import link_flap


def main():
    if not fixture.can_use_netns():
        print("netns.skipped reason=needs-root-and-ip-netns")
        return
    runs = 1 if "--short" in sys.argv else 5
    for label, aware in (("aware", True), ("timers_only", False)):
        values = []
        for _ in range(runs):
            with fixture.PipeWireFixture() as fx:
                values.append(link_flap(fx, network_events=aware))
        print("netns.link_up_to_streaming_ms.%s runs=%d median=%.0f min=%.0f max=%.0f" % (
            label, runs, statistics.median(values), min(values), max(values)))


if __name__ == "__main__":
    main()
