"""Report rendering: Markdown and self-contained HTML with inline SVG charts."""
