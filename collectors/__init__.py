"""hamon's collectors (sources): they turn what arrives into RawBatch values.

Imported as `hamon.collectors`. Each module is one source with one narrow interface.
"""
