"""`ami audit`: images and their regions checked against rules, through the
public EC2 API only (see docs/audit.md)."""
