"""Benchmarks of the certificate scan against a fast stand-in IoT endpoint (issue 5).

Run `python -m bench --quick` or `python -m bench` from the repository root; see bench/README.md.
"""
