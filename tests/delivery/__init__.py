"""Tests of the delivery engine against real SMTP servers and databases."""
