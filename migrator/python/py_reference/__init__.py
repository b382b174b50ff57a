"""The reference migrator in Python (SQLAlchemy 1.4 ORM, redis-py, stripe-python, httpx),
run by orgquake as a worker (`python3 -m py_reference`, docs/worker-protocol.md)."""
