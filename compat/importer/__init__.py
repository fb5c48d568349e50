"""``manage.py import_mvp``: an MVP database (``../shared/reference/mvp-schema.md``) into ours.

``reader`` reads the MVP (read-only); ``users``, ``market`` and ``strategy`` write through
our services; ``levels`` compares the MVP's own index levels with our published run;
``summary`` is the table the command prints; ``run.mvp_import`` ties them together in one
transaction. See docs/import-mvp.md.
"""
