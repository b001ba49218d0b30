"""ROS 2 layer: thin node shells over the core, and the message conversions they share."""
