"""Run several SPIRE LM trainings inside one ``torchrun`` launch (saves the start-up time).

Usage: ``torchrun --nproc_per_node 2 tests/spire_lm_ds_driver.py runs.json`` where runs.json is
a list of argument lists for ``espnet_spire.bin.spire_lm_train``.

Test harness only: the runs of one launch share the process group that the first run creates
(ESPnet's ``init_torch_distributed`` is made a no-op when a group already exists; DeepSpeed caches
its groups, so destroying and re-creating it between runs is not an option).  Every run builds its
own model, DeepSpeed engine and iterators.  A resume test must use a separate launch.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    import torch.distributed as dist
    from espnet2.train.distributed_utils import DistributedOption

    from espnet_spire.tasks.spire_lm import SpireLMTask

    first_init = DistributedOption.init_torch_distributed

    def init_once(self):
        if not dist.is_initialized():
            first_init(self)

    DistributedOption.init_torch_distributed = init_once

    runs = json.loads(Path(sys.argv[1]).read_text())
    for args in runs:
        SpireLMTask.main(cmd=args)
        if dist.is_initialized():
            dist.barrier()


if __name__ == "__main__":
    main()
