"""EuroQCI: plan, run, emulate and certify a continent-wide QKD network.

The package root stays light: import the nouns you need from :mod:`euroqci.api`.
"""

__version__ = "0.1.0"
