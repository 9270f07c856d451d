"""Tests of Powerbus."""
