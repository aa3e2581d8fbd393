#!/usr/bin/env python3
"""Train the SPIRE LLM (CPT or IT): ``python -m espnet_spire.bin.spire_lm_train --config ...``.

All options are ESPnet's (``--print_config`` lists them) plus the task options of
:class:`espnet_spire.tasks.spire_lm.SpireLMTask` (``--model_dir``, ``--max_len``, ...).
"""

import sys

from espnet_spire.common.fileio import DiskFullError
from espnet_spire.tasks.spire_lm import SpireLMTask
from espnet_spire.train.config_guard import TrainingConfigChanged


def get_parser():
    return SpireLMTask.get_parser()


def main(cmd=None):
    """Train the SPIRE LLM.

    Example:
        % python -m espnet_spire.bin.spire_lm_train --print_config --optim adamw
        % python -m espnet_spire.bin.spire_lm_train --config conf/train_cpt_demo.yaml \\
            --model_dir exp/spire_tokenizer/base_model --output_dir exp/lm_cpt_demo ...
    """
    try:
        SpireLMTask.main(cmd=cmd)
    except (TrainingConfigChanged, DiskFullError) as e:
        # a decision for the user, not a bug: one line (train_lm.sh repeats it), no traceback
        print(f"Error: {e}", file=sys.stderr, flush=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
