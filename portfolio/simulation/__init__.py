"""What-if simulations on an index's published run.

- :mod:`.maths`: the pure simulation (numpy/pandas only, no Django, nothing from the apps);
- :mod:`.fx`: the currencies a simulation accepts and their USD-per-unit rates;
- :mod:`.service`: the use case — reads the published levels and the rates, runs the maths
  and maps its errors to problems.

This file imports nothing, so the maths can be used (and benchmarked) without Django.
"""
