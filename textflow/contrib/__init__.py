"""Optional integrations with web frameworks: each an extra, imported only when used."""
