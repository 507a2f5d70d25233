"""One simulation across processes on `torch.distributed`: process groups from a launcher's environment,
agents partitioned into contiguous id ranges (along regions), each rank's rows loaded from Parquet, halo exchanges
of boundary agents, exact integer reductions (docs/distributed.md).

Not loaded by `import populace`; `import populace.distributed` loads torch.distributed and the network package.
"""

from populace.distributed.collectives import gather_rows, smallest, sum_counts, sum_gradients
from populace.distributed.contacts import HaloContacts
from populace.distributed.halo import HaloExchange, HaloPlan, ghosts
from populace.distributed.launch import ProcessEnv, init_process_group
from populace.distributed.loading import RankPart, RowsRead, load_part, region_sizes
from populace.distributed.partition import Partition

__all__ = ["HaloContacts", "HaloExchange", "HaloPlan", "Partition", "ProcessEnv", "RankPart", "RowsRead", "gather_rows",
           "ghosts", "init_process_group", "load_part", "region_sizes", "smallest", "sum_counts", "sum_gradients"]
