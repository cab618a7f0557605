"""Every side effect of the cycle, grouped by concern in classes that receive their clients."""
