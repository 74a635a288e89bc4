"""Shadow-IT discovery: read egress evidence (proxy, DNS, Zeek logs, firewall exports, card
statements), match it against the vendor dataset and the catalog, and keep findings per
vendor and department that IT can turn into requests or set aside."""
