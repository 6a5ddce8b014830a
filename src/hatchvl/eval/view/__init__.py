"""The predictions viewer (`hatchvl eval view`): a static HTML site of a result folder's items, or of two
result folders of one benchmark side by side (docs/evaluation.md, "Looking at predictions").

records.py reads result folders without ever failing on a bad line; plan.py and svg.py draw the camera
motion an output's actions compose to; thumbs.py makes the thumbnails once; entries.py joins it all into
one entry per item; site.py writes the site (static/ holds its page, script and style); markdown.py
renders the Markdown of results.md and report.md as HTML.
"""
