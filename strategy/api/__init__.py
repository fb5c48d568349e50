"""The strategy app's HTTP interface (v2): ``strategies/<id>/``, included by ``config/api_urls``."""
