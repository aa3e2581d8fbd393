"""Plan mode (``spire.sh --plan true``): check every input and estimate a run before any work.

:mod:`.inputs` reads what exists (data dirs, model shapes, k-means facts, training configs)
without loading weights, :mod:`.estimates` turns sizes into units, tokens, disk, GPU memory and
GPU-hours (each formula in its docstring), :mod:`.render` prints the tables and
:mod:`.build` ties them to the stages selected (``python -m espnet_spire.bin.plan``).
"""
