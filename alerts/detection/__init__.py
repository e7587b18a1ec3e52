"""Detection: from warehouse posts and counts to Alert records (spikes, surges, sensitive items)."""
