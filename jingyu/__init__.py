"""Shared kernel of jingyu: settings, configuration loading and time conventions."""
