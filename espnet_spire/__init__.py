"""espnet_spire: an ESPnet-style recipe plugin that adds speech (as discrete units) to a text LLM.

Importing the package is cheap on purpose: heavy dependencies (torch, transformers) are imported
by the submodules that need them.
"""

__version__ = "0.1.0"
