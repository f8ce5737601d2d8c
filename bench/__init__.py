"""The benchmark harness: `python -m bench.run` measures orderflow against bare ceilings.

See docs/benchmarks.md for the command, what each figure means and the latest results.
"""
