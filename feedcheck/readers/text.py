"""The dtype every reader's columns have: pandas' own ``str``, held by pyarrow (apart from :mod:`.base`,
which a run that reads nothing imports without pandas)."""

import numpy as np
import pandas as pd

TEXT = pd.StringDtype("pyarrow", na_value=np.nan)
