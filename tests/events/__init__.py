"""Tests of the events room."""
