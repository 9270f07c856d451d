"""Tests of the powerbus command-line tool."""
