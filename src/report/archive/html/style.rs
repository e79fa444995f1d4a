//! The page's only style sheet, inlined: light colours by default, dark ones under
//! `prefers-color-scheme: dark`, and a print style with every section open and light colours.
//! Plot and state colours are CSS variables, so the SVGs follow the scheme too.

/// The style sheet.
pub const CSS: &str = r#"
:root{color-scheme:light dark;--bg:#fff;--fg:#1d2127;--muted:#5f6b7a;--line:#d8dde3;--panel:#f5f7f9;
--done:#2e9e4f;--failed:#d43f3a;--blocked:#e8a33d;--running:#3d7fd4;--interrupted:#8a6fbf;--pending:#a0a8b3;--other:#6c757d;
--s0:#1f77b4;--s1:#ff7f0e;--s2:#2ca02c;--s3:#d62728;--s4:#9467bd;--s5:#8c564b;--s6:#e377c2;--s7:#17becf;--prev:#b9c0c8}
@media (prefers-color-scheme:dark){:root{--bg:#15181d;--fg:#e3e6ea;--muted:#9aa4b1;--line:#343b45;--panel:#1c2027;
--pending:#6b7480;--prev:#5a626c;--s0:#4c9be0;--s3:#ef5a5b;--s5:#b07d6f}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1240px;padding:16px 20px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
h1{font-size:20px;margin:0 0 8px}h1 .run{font-weight:400;color:var(--muted);font-size:14px}
h2{display:inline;font-size:16px;margin:0}h3{font-size:14px;margin:12px 0 4px}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:var(--panel);border:1px solid var(--line);padding:8px;margin:4px 0;overflow:auto;max-height:480px}
.verdict{border-left:6px solid var(--other);padding:10px 14px;background:var(--panel);border-radius:4px}
.v-done{border-color:var(--done)}.v-failed{border-color:var(--failed)}.v-blocked,.v-interrupted{border-color:var(--blocked)}.v-running,.v-pending{border-color:var(--running)}
.line{display:flex;align-items:center;gap:12px;flex-wrap:wrap}
.badge{font-weight:700;text-transform:uppercase;padding:2px 8px;border-radius:3px;color:#fff;background:var(--other)}
.v-done .badge{background:var(--done)}.v-failed .badge{background:var(--failed)}.v-blocked .badge,.v-interrupted .badge{background:var(--blocked)}.v-running .badge,.v-pending .badge{background:var(--running)}
svg.counts{width:320px;height:14px;display:block}
.counts{color:var(--muted)}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px;vertical-align:-1px}
.st-done{fill:var(--done);background:var(--done)}.st-failed{fill:var(--failed);background:var(--failed)}.st-blocked{fill:var(--blocked);background:var(--blocked)}
.st-running{fill:var(--running);background:var(--running)}.st-interrupted{fill:var(--interrupted);background:var(--interrupted)}
.st-pending{fill:var(--pending);background:var(--pending)}.st-other{fill:var(--other);background:var(--other)}
.facts,.strip,.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap}
.facts{margin:8px 0 0;gap:4px 18px}.strip{margin:6px 0;gap:4px 22px}
.failure{margin:8px 0 0}.err,.worse{color:var(--failed)}.better{color:var(--done)}
.warn{color:var(--blocked)}.na,.capped{color:var(--muted);font-style:italic}
.k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em;margin-right:4px}
.note{color:var(--muted);font-size:12px;font-weight:400}
details.section{margin:14px 0;border-top:1px solid var(--line);padding-top:6px}
summary{cursor:pointer}details.sub,details.stack{margin:6px 0}
.panels{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:12px;margin-top:8px}
.panel{margin:0;border:1px solid var(--line);border-radius:4px;padding:6px 8px;break-inside:avoid}
svg.plot{width:100%;height:auto;display:block}
.plot text{font-size:9px;fill:var(--muted)}.plot .ty{text-anchor:end}.plot .tx{text-anchor:middle}
.plot .grid{stroke:var(--line);stroke-width:.5;fill:none}.plot .ax{stroke:var(--muted);stroke-width:1;fill:none}
.plot .l{fill:none;stroke-width:1.5;stroke-linejoin:round;stroke-linecap:round;vector-effect:non-scaling-stroke}
.s0{stroke:var(--s0);background:var(--s0)}.s1{stroke:var(--s1);background:var(--s1)}.s2{stroke:var(--s2);background:var(--s2)}.s3{stroke:var(--s3);background:var(--s3)}
.s4{stroke:var(--s4);background:var(--s4)}.s5{stroke:var(--s5);background:var(--s5)}.s6{stroke:var(--s6);background:var(--s6)}.s7{stroke:var(--s7);background:var(--s7)}
.plot .l.many{stroke:var(--s0);stroke-opacity:.4;stroke-width:1}.plot .l.best{stroke:var(--s1);stroke-width:2}.plot .l.prev{stroke:var(--prev)}
.sw.many{background:var(--s0);opacity:.5}.sw.best{background:var(--s1)}.sw.prev{background:var(--prev)}
.legend{margin:4px 0 0;font-size:12px;gap:2px 12px}
table{border-collapse:collapse;width:100%;margin:6px 0;font-size:13px}
th,td{text-align:left;padding:3px 8px;border-bottom:1px solid var(--line);vertical-align:top}
thead th{font-weight:600;color:var(--muted)}.kv th{width:200px;color:var(--muted);font-weight:400}.kv td{white-space:pre-wrap}
td.st{font-weight:600}td.done{color:var(--done)}td.failed{color:var(--failed)}td.blocked,td.interrupted{color:var(--blocked)}td.running{color:var(--running)}td.pending{color:var(--muted)}
.bar{display:inline-block;width:80px;height:8px;background:var(--line);border-radius:2px;vertical-align:middle}.bar>span{display:block;height:100%;background:var(--done);border-radius:2px}.bar.over>span{background:var(--failed)}
.files{columns:2;font-size:13px}
footer{margin-top:24px;color:var(--muted);font-size:12px}
@media print{:root{--bg:#fff;--fg:#000;--muted:#444;--line:#ccc;--panel:#fff;--prev:#bbb}
body{max-width:none;padding:0;font-size:11px}
details::details-content{content-visibility:visible;display:block}
summary{list-style:none}pre{max-height:none;white-space:pre-wrap;word-break:break-all}
.panels{grid-template-columns:repeat(3,1fr)}tr,.panel,.verdict{break-inside:avoid}}
"#;
