"""Incidents: what alerts become, who hears of them, their timers and 三同步 tracks, watchdog."""
