"""Tasks: the data a study trains on. One module per task."""
