"""Optional integrations, each behind an extra; nothing here is imported unless used."""
