"""Code shared by the tests (no tests here). pytest puts tests/ on sys.path, so tests import
`helpers.<module>`; no test module imports another."""
