"""Report rendering: Markdown and self-contained HTML with inline SVG charts.

`templates.py` renders jinja2 templates shipped as package data (the reports' live in
`edge_kit/report/templates/`); `plots.py` draws the charts with matplotlib as deterministic
inline SVG; `labels.py` keeps axis names apart and places point labels without overlaps.
"""
