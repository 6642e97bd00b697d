"""Optional integrations with web frameworks (each behind an extra; nothing imported unless used)."""
