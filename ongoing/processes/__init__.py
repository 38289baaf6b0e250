"""The integration's process bodies on the warehouse side, declared in integrations/processes.py."""
