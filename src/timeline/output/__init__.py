"""Outputs: labels, CLI tables, and the export formats (jsonl, csv, markdown, TimelineJS, html)."""
