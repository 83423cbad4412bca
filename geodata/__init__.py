"""Data core: NUTS boundaries, facility records, placement, spatial join and aggregation.

No dash import here: everything is a function of data, testable without a server.
"""
