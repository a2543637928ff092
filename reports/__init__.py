"""Turns store data and optimizer results into tables, text, Markdown, HTML, JSON and charts."""
