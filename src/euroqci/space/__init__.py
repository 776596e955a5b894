"""The space segment: satellites, optical ground stations, passes, link budgets and key per pass.

Orbits are propagated with sgp4 and Earth orientation comes from skyfield with the files of the
``skyfield-data`` package (no download at run time); this package never re-derives an orbit.
"""
