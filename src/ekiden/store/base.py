"""The Store protocol every backend implements (defined in ``ekiden.core.storage``).

It lives in ``core`` because the services depend on it and ``core`` imports nothing
outside itself; backends import it from here.
"""

from ekiden.core.storage import Store

__all__ = ["Store"]
