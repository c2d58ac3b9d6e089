"""Citizens, referrals and (later) wellbeing answers."""
