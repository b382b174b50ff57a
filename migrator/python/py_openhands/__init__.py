"""py_openhands: the migration as the OpenHands code the reference documents describe
writes it, run by orgquake to show which of the catalog's bug classes it has (README.md)."""
