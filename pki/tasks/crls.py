"""crls tasks."""
