"""Benchmarks: what the proxy costs, measured against a bare forwarder in the same run (`python -m bench`)."""
