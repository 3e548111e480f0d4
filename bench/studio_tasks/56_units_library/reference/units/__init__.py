"""Unit conversion from one table of factors."""
