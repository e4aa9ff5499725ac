"""keyturn's benchmarks: figures (calls, seconds, ratios) printed as a markdown table."""
