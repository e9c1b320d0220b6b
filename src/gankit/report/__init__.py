"""`gankit report`: one self-contained HTML page per run (or several runs compared).

Nothing in the page is fetched: sample grids are inlined as data URIs, curves as SVG drawn
by matplotlib at report time, and the few lines of script that drive the scrubbers inline.
"""

from gankit.report.collect import RunRecord, collect
from gankit.report.page import write_report

__all__ = ["RunRecord", "collect", "write_report"]
