"""Test helpers shared by the suites and the benchmarks: CEK signing and stub upstream servers."""
