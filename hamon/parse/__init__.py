"""Parse (stage 2): raw syslog lines and trap values into events; what cannot be read is quarantined."""
