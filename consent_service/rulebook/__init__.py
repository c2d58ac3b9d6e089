"""The legal adviser's rulebook (Regelsamling): the Danish scenarios of ``features/`` by the
law each implements, the rule files they rest on, and the legal adviser's sign-off of it
all, which lapses for whatever changes afterwards (issue 17)."""
