"""EC2 networking rules AWS enforces and moto skips (filled in below)."""
