"""Deep Lake 3's `deeplake.util` names, so `from chute.util.exceptions import TransformError` runs."""
