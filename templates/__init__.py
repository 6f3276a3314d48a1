"""Jinja2 report templates."""
