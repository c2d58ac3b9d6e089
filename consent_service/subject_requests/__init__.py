"""Requests from citizens exercising their rights (GDPR art. 15, 16, 17, 7(3), 21), with
their deadlines (art. 12(3))."""
