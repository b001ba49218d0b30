"""`python -m iknet_ros.cli`: the same as the `iknet-ros` console script."""
import sys

from iknet_ros.cli import main

sys.exit(main())
