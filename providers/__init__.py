"""Price sources: one module per source, each turning a raw payload into ``PriceQuote`` rows."""
