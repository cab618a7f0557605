"""Word (.docx) and email (Markdown + Jinja2) templates."""
