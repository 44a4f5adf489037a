"""hamon: failover monitoring and event correlation for Cisco ASA high-availability pairs."""

__version__ = "0.1.0"
