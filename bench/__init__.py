"""Benchmarks (`make bench`, `python -m bench`): the deterministic dataset, the reference implementations the app
is compared against, the callback harness and the loopback load test. Results go to bench/results/.

Nothing in the app imports this package.
"""
