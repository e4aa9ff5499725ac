"""keyturn."""
