/** The dashboard's page: a frame the script (client.ts) fills; no data in it, so nothing here needs escaping. */
export const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>inrscape dashboard</title>
<style>
body{font-family:'DejaVu Sans',sans-serif;margin:1em 2em}
nav button{margin-right:.5em}
nav button.on{font-weight:bold}
table{border-collapse:collapse;font-size:12px}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
th{cursor:pointer;background:#f3f3f3}
td.text{text-align:left;max-width:28em;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
tr.best td{background:#eaf7ea}
tbody tr{cursor:pointer}
#figures img,#node img{max-width:100%;display:block;margin:.5em 0}
#running .trial{display:inline-block;margin:0 1em 1em 0;vertical-align:top}
pre{background:#f6f6f6;padding:.5em;white-space:pre-wrap}
.muted{color:#777}
</style></head><body>
<h1>inrscape dashboard <span id="live" class="muted"></span></h1>
<nav id="studies"></nav>
<p id="summary"></p>
<h2>Running</h2><div id="running"></div>
<h2>Trials</h2><table id="trials"><thead></thead><tbody></tbody></table>
<section id="node"></section>
<h2>Figures</h2><div id="figures"></div>
<script src="/page.js"></script>
</body></html>
`;
