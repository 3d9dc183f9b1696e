"""AutoICE Kit: loaders, synthetic data, models, drift baselines and scoring for AutoICE."""

__version__ = "0.1.0"
