"""Helpers the test suites (and ``make bench``) share; not part of any distribution."""
