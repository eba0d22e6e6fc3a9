"""Notebooks 01-02 (monolith, shared database, database per service): measuring the four query methods,
their figures, the comparison control, and `labkit bench query`."""
