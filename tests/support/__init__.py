"""Helpers shared by the test suites: a real ekiden process and real clients for it."""
