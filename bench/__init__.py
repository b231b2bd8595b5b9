"""orderflow's benchmarks: cost per million records, throughput, cold start and scale.

`make bench` writes `bench/results.json` and `bench/README.md`; nothing here is shipped
or asserted by the test suite (tests/bench checks the arithmetic and the shapes only).
"""
