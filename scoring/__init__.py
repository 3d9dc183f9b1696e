"""AutoICE submission scorer. Depends only on numpy, netCDF4 and `kit.charts` (never torch)."""
