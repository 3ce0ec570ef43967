"""The pydantic v2 contracts shared by producers, the worker and consumers of results."""
