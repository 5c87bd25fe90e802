"""The delivery engine: one Send per dispatch, one Delivery row per recipient."""
