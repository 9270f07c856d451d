"""Tests of the models the benchmarks use."""
