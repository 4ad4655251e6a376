"""Test support that tests, benchmarks and the `--tiny-models` quick starts import: tiny random-weight models
built from the real classes, and the grammar fuzzer. The product's own code paths never need it."""
