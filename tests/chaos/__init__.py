"""Chaos and reliability suite: the real worker under kills, faults, poison and shutdowns."""
