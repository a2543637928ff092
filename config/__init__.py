"""Settings and the shipped reference data (GPU catalog, model presets, prices, defaults).

Nothing here imports the rest of rentbuy, so every layer may depend on it.
"""
