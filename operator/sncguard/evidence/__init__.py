"""Evidence packs (`sncguard report`): per tenant and for the platform, a self-contained HTML page and
the same content as JSON, sealed with a SHA-256 digest.

- gather.py: what was read (files or a cluster) -> the packs' data, pure over the view and `now`,
  judged by the path `sncguard check` takes;
- schema.py and pack.schema.json: the JSON's schema (2020-12), canonical form and digest;
- html.py and charts.py: the page, from the sealed JSON alone, with inline SVG charts;
- i18n.py: the words, in English and French;
- report.py: the command, reading the sources and writing DIR/<tenant>.html/.json and platform.html/.json.
"""
