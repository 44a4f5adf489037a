"""Poll (a source): `show failover` over SSH and cfwHardwareStatusTable read into events; saved CLI output read offline."""
