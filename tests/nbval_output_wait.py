"""A pytest plugin: nbval waits up to 60 s, not 5, for a cell's output messages after the cell finishes.

nbval hard-codes a 5-second wait between output messages (``IPyNbCell.output_timeout``). A training cell
that streams a live plot and a progress bar on a loaded two-core machine can leave a longer gap, and nbval
then fails the cell although it ran ("Timeout of 5 seconds exceeded waiting for output"). The cell's own
time limit (``--nbval-cell-timeout``) is unchanged. Loaded by ``-p tests.nbval_output_wait`` (pyproject).
"""

OUTPUT_WAIT_S = 60


def pytest_collection_modifyitems(items):
    for item in items:
        if hasattr(item, "output_timeout"):
            item.output_timeout = OUTPUT_WAIT_S
