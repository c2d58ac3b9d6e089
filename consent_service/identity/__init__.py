"""Users, organisations, passwords, TOTP, sessions and lockout."""
