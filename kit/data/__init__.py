"""AutoICE data: scene I/O, dataset layouts, ice-chart conversion, synthetic data, manifest."""
