"""How a person talks to tco: argument parsing and rendering only."""
