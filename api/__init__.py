"""cartosoins' interfaces over the :mod:`geo` engine: the ``cartosoins`` CLI and the HTTP service.

:mod:`api.core` holds what both do with the engine; :mod:`api.main` builds the FastAPI
application (imported only by ``cartosoins serve``).
"""
