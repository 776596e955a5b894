"""The terrestrial segment: scenario files, topology, key-rate planning, routing and resilience.

A scenario (sites, fibre links, device profiles, trusted nodes) becomes a graph whose edges carry
the secret key rate of each fibre span; planning answers what key each pair of sites can get,
through which trusted nodes, and what a failure costs. networkx is used at the edges only.
"""
