"""Results: the LayeredResult model, recipes and the PSD/PNG writers."""
