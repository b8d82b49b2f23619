"""The plan: its value objects (:mod:`.model`), the pure planner, shard selection, merging shard
plans, the offline preview, and saved plan files."""
