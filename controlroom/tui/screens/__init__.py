"""Screens: the main screen (one host, or a fleet of tabs) and the modals over it."""
