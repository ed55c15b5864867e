#!/usr/bin/python3
"""The reference side of `spotline bench plan-read`: read an RT Ion Plan with pydicom and sum its
spot meterset weights, REPEAT times, and print the timings as JSON.

Usage: bench_pydicom.py FILE [REPEAT]

Runs on Debian's python3-pydicom (2.3). The work matches what Spotline does per read: parse the
whole file and touch every control point's ScanSpotMetersetWeights.
"""
import json
import statistics
import sys
import time

import pydicom


def read_and_sum(path):
    ds = pydicom.dcmread(path)
    total = 0.0
    spots = 0
    for beam in ds.IonBeamSequence:
        for cp in beam.IonControlPointSequence:
            weights = cp.get("ScanSpotMetersetWeights")
            if weights is None:
                continue
            if isinstance(weights, float):
                weights = [weights]
            if sum(weights) > 0:
                total += sum(weights)
                spots += len(weights)
    return total, spots


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    path = sys.argv[1]
    repeat = int(sys.argv[2]) if len(sys.argv) == 3 else 10
    times = []
    total = spots = 0
    for _ in range(repeat):
        start = time.perf_counter()
        total, spots = read_and_sum(path)
        times.append((time.perf_counter() - start) * 1000.0)
    print(json.dumps({
        "pydicom_version": pydicom.__version__,
        "repeat": repeat,
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "spots": spots,
        "weight_sum": total,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
