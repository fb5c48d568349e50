"""Operations: verified backups, restore and point-in-time recovery (docs/operations.md).

The top of the layers (it reads every app's tables to verify a backup); nothing imports it.
"""
