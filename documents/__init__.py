"""Documents: rendering, change summaries, PDF conversion and sealing. Knows nothing of Temporal."""
