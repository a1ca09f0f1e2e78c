"""Delivery: a finished result as the files each channel needs (web, social, app stores, print), by named presets."""
