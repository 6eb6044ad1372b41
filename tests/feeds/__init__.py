"""Tests of the feeds room."""
