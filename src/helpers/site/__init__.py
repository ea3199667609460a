"""The build runner, figure export, privacy scan, Sphinx extension and intake. Nothing imports this package."""
