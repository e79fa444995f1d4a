//! The appendices, folded: config, paths, environment, packages, data (here), and code, task
//! sections, artifacts and repro ([`code`]). Long texts and lists are capped for display.

use super::super::model::Archive;
use super::format::{bytes, clip, head};
use super::{esc, left_out, open_section};
use crate::provenance::model::Probed;
use std::fmt::Write;

mod code;

/// Bytes of one long text (config, patch, repro script) shown.
pub const TEXT_CAP: usize = 48 * 1024;
/// Packages listed.
const PACKAGE_ROWS: usize = 1000;
/// Data files listed over all patterns.
const DATA_ROWS: usize = 200;

/// Every appendix, in the order of seed 004's template.
pub fn all(out: &mut String, a: &Archive) {
    config(out, a);
    environment(out, a);
    packages(out, a);
    data(out, a);
    code::code(out, a);
    code::task_sections(out, a);
    code::artifacts(out, a);
    code::repro(out, a);
}

/// `text` in a `<pre>`, cut at [`TEXT_CAP`] with a line saying so.
pub fn pre(out: &mut String, text: &str, what: &str) {
    let (shown, cut) = head(text, TEXT_CAP);
    let _ = writeln!(out, "<pre>{}</pre>", esc(shown));
    if cut {
        let _ = writeln!(
            out,
            "<p class=\"capped\">{} more of the {what} not shown (showing {}); the JSON archive has it in full.</p>",
            bytes((text.len() - shown.len()) as u64),
            bytes(shown.len() as u64)
        );
    }
}

/// A two-column table of (name, value) rows, values escaped here.
pub fn kv(out: &mut String, rows: &[(&str, String)]) {
    out.push_str("<table class=\"kv\"><tbody>");
    for (k, v) in rows {
        let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    }
    out.push_str("</tbody></table>\n");
}

fn config(out: &mut String, a: &Archive) {
    open_section(out, "config", "Config", &a.config.spec_path, false);
    pre(out, &a.config.spec_text, "experiment file");
    let p = &a.paths;
    kv(
        out,
        &[
            ("store", p.store.clone()),
            ("run folder", p.run_dir.clone()),
            ("working folder", p.workdir.clone()),
        ],
    );
    out.push_str("</details>\n");
}

fn environment(out: &mut String, a: &Archive) {
    open_section(out, "environment", "Environment", "", false);
    let Probed::Value(p) = &a.provenance else {
        if let Probed::Na(why) = &a.provenance {
            let _ = writeln!(out, "<p class=\"na\">n/a ({})</p>", esc(why));
        }
        out.push_str("</details>\n");
        return;
    };
    let _ = writeln!(out, "<p>Captured at {}.</p>", esc(&p.captured_at));
    match &p.host {
        Probed::Value(h) => {
            let mut rows = vec![
                ("host", h.hostname.clone()),
                ("user", h.user.clone()),
                ("OS", h.os.clone()),
                ("kernel", format!("{} ({})", h.kernel, h.arch)),
                ("CPU", format!("{} × {}", h.cpus, h.cpu_model)),
                ("memory", bytes(h.memory_bytes)),
            ];
            rows.extend(h.slurm.iter().map(|(k, v)| (k.as_str(), v.clone())));
            kv(out, &rows);
        }
        Probed::Na(why) => {
            let _ = writeln!(out, "<p class=\"na\">host: n/a ({})</p>", esc(why));
        }
    }
    match &p.python {
        Probed::Value(py) => kv(
            out,
            &[
                ("python", py.executable.clone()),
                (
                    "version",
                    py.version
                        .clone()
                        .unwrap_or_else(|| "n/a (not read)".into()),
                ),
                ("venv", py.venv.clone().unwrap_or_else(|| "none".into())),
                (
                    "conda env",
                    py.conda_env.clone().unwrap_or_else(|| "none".into()),
                ),
                ("site-packages", py.site_packages.join("\n")),
            ],
        ),
        Probed::Na(why) => {
            let _ = writeln!(out, "<p class=\"na\">python: n/a ({})</p>", esc(why));
        }
    }
    match &p.gpus {
        Probed::Value(g) => {
            let _ = write!(
                out,
                "<table><thead><tr><th>GPU</th><th>name</th><th>UUID</th><th>memory</th></tr></thead><tbody>"
            );
            for d in &g.devices {
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                    d.index,
                    esc(&d.name),
                    esc(&d.uuid),
                    bytes(d.memory_bytes)
                );
            }
            let _ = writeln!(
                out,
                "</tbody></table><p>driver {} · CUDA {} · CUDA_VISIBLE_DEVICES {}</p>",
                esc(&g.driver),
                esc(&g.cuda),
                esc(g.visible.as_deref().unwrap_or("unset"))
            );
        }
        Probed::Na(why) => {
            let _ = writeln!(out, "<p class=\"na\">GPU: n/a ({})</p>", esc(why));
        }
    }
    let vars: Vec<(&str, String)> = p
        .env
        .vars
        .iter()
        .map(|(k, v)| (k.as_str(), clip(v, 400)))
        .collect();
    let _ = writeln!(
        out,
        "<h3>Variables</h3><p class=\"note\">captured by allowlist: {}</p>",
        esc(&p.env.allowlist.join(" "))
    );
    kv(out, &vars);
    out.push_str("</details>\n");
}

fn packages(out: &mut String, a: &Archive) {
    let pk = match &a.provenance {
        Probed::Value(p) => &p.packages,
        Probed::Na(_) => return,
    };
    let Probed::Value(pk) = pk else {
        open_section(out, "packages", "Packages", "", false);
        if let Probed::Na(why) = pk {
            let _ = writeln!(out, "<p class=\"na\">n/a ({})</p>", esc(why));
        }
        out.push_str("</details>\n");
        return;
    };
    open_section(
        out,
        "packages",
        "Packages",
        &format!("{} installed", pk.all.len()),
        false,
    );
    let chosen: Vec<(&str, String)> = pk
        .chosen
        .iter()
        .map(|c| (c.name.as_str(), c.version.clone()))
        .collect();
    kv(out, &chosen);
    out.push_str("<table><thead><tr><th>package</th><th>version</th><th>commit</th><th>from</th></tr></thead><tbody>");
    for p in pk.all.iter().take(PACKAGE_ROWS) {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&p.name),
            esc(&p.version),
            esc(p.commit.as_deref().unwrap_or("")),
            esc(&p.source)
        );
    }
    out.push_str("</tbody></table>\n");
    left_out(
        out,
        pk.all.len().min(PACKAGE_ROWS),
        pk.all.len(),
        "packages",
    );
    out.push_str("</details>\n");
}

fn data(out: &mut String, a: &Archive) {
    let Probed::Value(p) = &a.provenance else {
        return;
    };
    let note = format!(
        "{} pattern{}",
        p.data.len(),
        if p.data.len() == 1 { "" } else { "s" }
    );
    open_section(out, "data", "Data", &note, false);
    if p.data.is_empty() {
        let why = crate::report::archive::markdown_tail::no_data_snapshot(p, &a.summary.status);
        let _ = writeln!(out, "<p class=\"na\">n/a ({})</p>", esc(&why));
    }
    let mut listed = 0;
    let mut total = 0;
    for d in &p.data {
        let _ = writeln!(
            out,
            "<h3><code>{}</code></h3><p>{} files · {} · {} lines · root <code>{}</code>{}</p>",
            esc(&d.pattern),
            d.files,
            bytes(d.bytes),
            d.lines,
            esc(&d.root),
            d.partial
                .as_deref()
                .map(|w| format!(" · <span class=\"warn\">partial: {}</span>", esc(w)))
                .unwrap_or_default()
        );
        let Some(files) = &d.per_file else { continue };
        total += files.len();
        let room = DATA_ROWS.saturating_sub(listed).min(files.len());
        if room == 0 {
            continue;
        }
        out.push_str("<table><thead><tr><th>file</th><th>size</th><th>lines</th><th>blake3</th></tr></thead><tbody>");
        for f in &files[..room] {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                esc(&f.path),
                bytes(f.bytes),
                f.lines,
                esc(&clip(&f.blake3, 16))
            );
        }
        out.push_str("</tbody></table>\n");
        listed += room;
    }
    left_out(out, listed, total, "data files");
    out.push_str("</details>\n");
}
