"""Names the HTTP edge shares: the session and pre-login cookies and the CSRF header.

Kept apart from ``web.deps`` so that lower web modules (the rate limiter) can read a
cookie without importing the dependencies that authenticate a request."""

SESSION_COOKIE = "cs_session"
PRELOGIN_COOKIE = "cs_prelogin"
CSRF_HEADER = "x-csrf-token"
