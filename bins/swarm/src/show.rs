//! `swarm show`: everything a .torrent or a magnet link says, for people or (`--json`) scripts.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};
use swarmgate_metainfo::{Magnet, Torrent};

use crate::format::size;

/// Arguments of `swarm show`.
#[derive(Args, Debug)]
pub(crate) struct ShowArgs {
    /// A .torrent file, or a magnet link (`magnet:?xt=...`).
    target: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &ShowArgs) -> anyhow::Result<()> {
    let report = if args.target.starts_with("magnet:") {
        let magnet = Magnet::parse(&args.target).context("invalid magnet link")?;
        magnet_report(&magnet)
    } else {
        let path = PathBuf::from(&args.target);
        let bytes = std::fs::read(&path).with_context(|| format!("{}", path.display()))?;
        let torrent = Torrent::from_bytes(&bytes).with_context(|| format!("{}", path.display()))?;
        torrent_report(&torrent)
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report);
    }
    Ok(())
}

fn torrent_report(t: &Torrent) -> Value {
    let files: Vec<Value> = t
        .files()
        .iter()
        .filter(|f| !f.is_pad())
        .map(|f| json!({ "path": f.display_path(), "length": f.length(), "attributes": f.attributes().to_string() }))
        .collect();
    json!({
        "name": t.name(),
        "info_hash_v1": t.info_hash().v1().map(|h| h.to_hex()),
        "info_hash_v2": t.info_hash().v2().map(|h| h.to_hex()),
        "total_size": t.data_length(),
        "piece_length": t.piece_length(),
        "piece_count": t.piece_count(),
        "private": t.is_private(),
        "multi_file": t.is_multi_file(),
        "trackers": t.trackers(),
        "web_seeds": t.web_seeds(),
        "files": files,
        "comment": t.comment(),
        "created_by": t.created_by(),
        "creation_date": t.creation_date(),
        "magnet": Magnet::from_torrent(t).to_string(),
        "warnings": t.warnings().iter().map(|w| format!("{w:?}")).collect::<Vec<_>>(),
    })
}

fn magnet_report(m: &Magnet) -> Value {
    json!({
        "name": m.display_name,
        "info_hash_v1": m.info_hash.v1().map(|h| h.to_hex()),
        "info_hash_v2": m.info_hash.v2().map(|h| h.to_hex()),
        "trackers": m.trackers.iter().map(|t| vec![t]).collect::<Vec<_>>(),
        "web_seeds": m.web_seeds,
        "peers": m.peers.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "selected_files": m.selected_files,
        "magnet": m.to_string(),
    })
}

fn print_text(r: &Value) {
    let line = |label: &str, value: String| println!("{label:<14}{value}");
    if let Some(name) = r["name"].as_str() {
        line("name:", name.to_string());
    }
    for (key, label) in [
        ("info_hash_v1", "info-hash v1:"),
        ("info_hash_v2", "info-hash v2:"),
    ] {
        if let Some(hash) = r[key].as_str() {
            line(label, hash.to_string());
        }
    }
    if let Some(total) = r["total_size"].as_u64() {
        line("size:", format!("{} ({total} bytes)", size(total)));
        let piece = r["piece_length"].as_u64().unwrap_or(0);
        line("pieces:", format!("{} x {}", r["piece_count"], size(piece)));
        line(
            "private:",
            if r["private"].as_bool() == Some(true) {
                "yes"
            } else {
                "no"
            }
            .into(),
        );
    }
    for (tier, urls) in r["trackers"].as_array().into_iter().flatten().enumerate() {
        let urls: Vec<&str> = urls
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        line(
            if tier == 0 { "trackers:" } else { "" },
            format!("[{}] {}", tier + 1, urls.join(", ")),
        );
    }
    for (i, seed) in r["web_seeds"].as_array().into_iter().flatten().enumerate() {
        line(
            if i == 0 { "web seeds:" } else { "" },
            seed.as_str().unwrap_or_default().to_string(),
        );
    }
    for (i, peer) in r["peers"].as_array().into_iter().flatten().enumerate() {
        line(
            if i == 0 { "peers:" } else { "" },
            peer.as_str().unwrap_or_default().to_string(),
        );
    }
    for key in ["comment", "created_by"] {
        if let Some(text) = r[key].as_str() {
            line(&format!("{}:", key.replace('_', " ")), text.to_string());
        }
    }
    if let Some(files) = r["files"].as_array() {
        println!("files ({}):", files.len());
        for f in files {
            let attributes = f["attributes"]
                .as_str()
                .filter(|a| !a.is_empty())
                .map(|a| format!(" [{a}]"))
                .unwrap_or_default();
            println!(
                "  {:>12}  {}{attributes}",
                size(f["length"].as_u64().unwrap_or(0)),
                f["path"].as_str().unwrap_or_default()
            );
        }
    }
    for warning in r["warnings"].as_array().into_iter().flatten() {
        line("warning:", warning.as_str().unwrap_or_default().to_string());
    }
    line(
        "magnet:",
        r["magnet"].as_str().unwrap_or_default().to_string(),
    );
}
