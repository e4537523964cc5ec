"""The console owns no models: it shows other apps' records through their services."""
