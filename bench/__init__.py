"""The suite's benchmark: `python -m bench` (or `./run bench`); figures in docs/benchmarks.md.

Every figure comes from a real child run of the suite against the embedded reference server:
wall time, peak RSS of the test process, and the server's own busy time, so that what the
harness costs on top of the server reads as one ratio.
"""
