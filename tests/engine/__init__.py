"""Tests of the engine's pure parts."""
