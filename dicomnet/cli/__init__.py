"""The ``dicomnet`` command line."""
