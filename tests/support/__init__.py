"""Helpers shared by the tests: parsers, mail tools, HTML checks, zones, API tokens."""
