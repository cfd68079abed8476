"""Widgets of the control room: header, gauges, game panes, reboot timeline, event log."""
