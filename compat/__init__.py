"""The MVP's ``/api/v1``, served on top of the v2 services and selectors (no rule of its own).

``compat.api`` answers the routes the MVP's clients reach in the MVP's shapes; retired and
switched-off route groups answer 410 with their successor. ``manage.py import_mvp`` moves an
MVP database's users, assets, prices, market caps and strategy in through the normal services.
See docs/api-v1.md.
"""
