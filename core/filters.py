"""django-filter building blocks shared by the API apps."""

from __future__ import annotations

import django_filters


class StrictFilterSet(django_filters.FilterSet):
    """A typed parameter that is present must have a value.

    django-filter skips an empty value (``?asset_class=``) as if the parameter were absent,
    so a client's typo silently widens the result. Here an empty choice, number, date or
    boolean is a 400 with a field error; text filters (where "" is a valid value) are left
    alone.
    """

    def is_valid(self) -> bool:
        valid = super().is_valid()
        for name, filter_ in self.filters.items():
            if isinstance(filter_, django_filters.CharFilter):
                continue
            if name in self.data and self.data.get(name) == "":
                self.form.add_error(name, "This parameter needs a value.")
                valid = False
        return valid
