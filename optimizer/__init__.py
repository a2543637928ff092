"""Pure math: memory, throughput, owning and renting costs, break-even, fleet and uncertainty.

No network, no database, no clock: everything arrives as arguments (DESIGN.md).
"""
