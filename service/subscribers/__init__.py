"""Readers, lists, memberships, consent and suppressions."""
