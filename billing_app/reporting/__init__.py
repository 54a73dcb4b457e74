"""Reporting for analysts: the views of sql/reporting/, read-only, and their rollups.

- ``reports``: reading a report as the reporting role (catalogue-checked names, parameters for values).
- ``rollups``: the precomputed reports and their refresh.
- ``commands``: `flask report list | show | refresh`.
"""
