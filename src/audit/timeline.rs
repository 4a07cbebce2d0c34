//! The audit as a self-contained SVG timeline: a lane per host with its leadership and
//! JobManager-running intervals, every failover as a band over its outage, violations and
//! overlaps in red, and a time axis.

use std::fmt::Write as _;

use super::rebuild::Interval;
use super::record::{format_time, Micros};
use super::report::{secs, secs_us};
use super::Audit;

const WIDTH: f64 = 1400.0;
const LEFT: f64 = 170.0;
const RIGHT: f64 = 30.0;
const TITLE: f64 = 58.0;
const LABEL_ROW: f64 = 15.0;
const LABEL_ROWS: usize = 3;
const LANE: f64 = 64.0;
const BAR: f64 = 17.0;
const AXIS: f64 = 46.0;
const LEGEND: f64 = 34.0;

const LEAD: &str = "#3b6fb6";
const JM: &str = "#2e9d5b";
const BAND: &str = "#f2a33a";
const RED: &str = "#d62728";
const GRID: &str = "#e3e3e3";
const INK: &str = "#222";
const MUTED: &str = "#666";

/// Tick spacings of the time axis, µs.
const STEPS: [i64; 27] = [
    1_000,
    2_000,
    5_000,
    10_000,
    20_000,
    50_000,
    100_000,
    200_000,
    500_000,
    1_000_000,
    2_000_000,
    5_000_000,
    10_000_000,
    15_000_000,
    30_000_000,
    60_000_000,
    120_000_000,
    300_000_000,
    600_000_000,
    900_000_000,
    1_800_000_000,
    3_600_000_000,
    7_200_000_000,
    10_800_000_000,
    21_600_000_000,
    43_200_000_000,
    86_400_000_000,
];

/// Maps time to x.
struct Scale {
    t0: Micros,
    t1: Micros,
}

impl Scale {
    fn x(&self, t: Micros) -> f64 {
        LEFT + (t - self.t0) as f64 / (self.t1 - self.t0) as f64 * (WIDTH - LEFT - RIGHT)
    }

    /// x and width of `[start, end]`, at least `min` pixels wide.
    fn span(&self, start: Micros, end: Micros, min: f64) -> (f64, f64) {
        let (a, b) = (self.x(start), self.x(end));
        let w = (b - a).max(min);
        (a.min(WIDTH - RIGHT - w), w)
    }
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// `HH:MM:SS` (or with milliseconds, or `HH:MM`, or the date) of a time, for axis labels.
fn clock(t: Micros, step: i64) -> String {
    let full = format_time(t);
    if step >= 86_400_000_000 {
        full[..10].to_string()
    } else if step >= 60_000_000 {
        full[11..16].to_string()
    } else if step >= 1_000_000 {
        full[11..19].to_string()
    } else {
        full[11..23].to_string()
    }
}

/// The time range shown: every interval and failover, with a little room on both sides.
fn range(audit: &Audit) -> (Micros, Micros) {
    let h = &audit.history;
    let mut lo = Micros::MAX;
    let mut hi = Micros::MIN;
    let mut take = |t: Micros| {
        lo = lo.min(t);
        hi = hi.max(t);
    };
    for host in &h.hosts {
        take(host.first_record);
        take(host.last_record);
        for i in host.leadership.iter().chain(&host.jobmanager) {
            take(i.start);
            take(i.end);
        }
    }
    for f in &h.failovers {
        take(f.logged_at);
        f.figures.outage_start.into_iter().chain(f.figures.ready_at).for_each(&mut take);
    }
    if lo > hi {
        return (0, 1_000_000);
    }
    let pad = ((hi - lo) / 40).max(500_000);
    (lo - pad, hi + pad)
}

/// Draws the audit as an SVG document.
pub fn svg(audit: &Audit) -> String {
    let h = &audit.history;
    let s = &audit.summary;
    let (t0, t1) = range(audit);
    let scale = Scale { t0, t1 };
    let lanes_top = TITLE + LABEL_ROW * LABEL_ROWS as f64 + 6.0;
    let lanes_bottom = lanes_top + LANE * h.hosts.len() as f64;
    let height = lanes_bottom + AXIS + LEGEND;
    let plot_right = WIDTH - RIGHT;
    let mut o = String::new();
    let _ = write!(
        o,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">
<defs><pattern id="inferred" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff" fill-opacity="0.55"/><rect width="3" height="6" fill="#fff" fill-opacity="0"/></pattern></defs>
<rect width="100%" height="100%" fill="#fff"/>
"##
    );

    // Title.
    let outages = if s.count == 0 {
        "no failovers".to_string()
    } else {
        format!(
            "{} failover{}, outage p50 {} / p95 {} / max {}",
            s.count,
            if s.count == 1 { "" } else { "s" },
            secs(s.p50_ms),
            secs(s.p95_ms),
            secs(s.max_ms)
        )
    };
    let verdict_color = if audit.exit_code() == super::EXIT_OK { INK } else { RED };
    let _ = writeln!(
        o,
        r#"<text x="16" y="24" font-size="16" font-weight="bold" fill="{INK}">flink-ha-supervisor audit: {}</text>"#,
        esc(&outages)
    );
    let _ = writeln!(
        o,
        r#"<text x="16" y="44" fill="{verdict_color}">budget {}: {} over budget, {} overlap{} of two JobManagers</text>"#,
        humantime::format_duration(audit.budget),
        s.violations,
        s.overlaps,
        if s.overlaps == 1 { "" } else { "s" }
    );

    // Grid and axis.
    let step = STEPS.iter().copied().find(|step| (t1 - t0) / step <= 12).unwrap_or(7 * 86_400_000_000);
    let mut tick = (t0 / step + 1) * step;
    while tick < t1 {
        let x = scale.x(tick);
        let _ = writeln!(
            o,
            r#"<line x1="{x:.1}" y1="{lanes_top:.1}" x2="{x:.1}" y2="{:.1}" stroke="{GRID}"/>"#,
            lanes_bottom + 4.0
        );
        let _ = writeln!(
            o,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="{MUTED}">{}</text>"#,
            lanes_bottom + 20.0,
            clock(tick, step)
        );
        tick += step;
    }
    let _ = writeln!(
        o,
        r#"<line x1="{LEFT}" y1="{lanes_bottom:.1}" x2="{plot_right}" y2="{lanes_bottom:.1}" stroke="{MUTED}"/>"#
    );
    let _ = writeln!(
        o,
        r#"<text x="{LEFT}" y="{:.1}" fill="{MUTED}">{} UTC · intervals on the hosts' clocks, failover outages on the ZooKeeper server's clock</text>"#,
        lanes_bottom + 38.0,
        &format_time(t0)[..10]
    );

    // Lanes.
    for (i, host) in h.hosts.iter().enumerate() {
        let y = lanes_top + LANE * i as f64;
        if i % 2 == 1 {
            let _ = writeln!(
                o,
                r##"<rect x="0" y="{y:.1}" width="{WIDTH}" height="{LANE}" fill="#f6f7f9" fill-opacity="0.8"/>"##
            );
        }
        let _ = writeln!(
            o,
            r#"<text x="16" y="{:.1}" font-size="14" font-weight="bold" fill="{INK}">{}</text>"#,
            y + LANE / 2.0 + 5.0,
            esc(&host.node)
        );
        let lead_y = y + 11.0;
        let jm_y = lead_y + BAR + 6.0;
        for (label, bar_y) in [("leader", lead_y), ("JobManager", jm_y)] {
            let _ = writeln!(
                o,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="10" fill="{MUTED}">{label}</text>"#,
                LEFT - 6.0,
                bar_y + BAR / 2.0 + 3.5
            );
        }
        for interval in &host.leadership {
            bar(&mut o, &scale, interval, lead_y, LEAD, &host.node, "leader");
        }
        for interval in &host.jobmanager {
            bar(&mut o, &scale, interval, jm_y, JM, &host.node, "JobManager");
        }
    }

    // Failovers: a band over each outage, a line at its end, a label above the lanes.
    let mut row_ends = [f64::MIN; LABEL_ROWS];
    for f in &h.failovers {
        let x = &f.figures;
        let color = if f.within_budget { BAND } else { RED };
        let end = x.ready_at.unwrap_or(f.logged_at);
        let start = x.outage_start.unwrap_or(end);
        let (bx, bw) = scale.span(start, end, 2.0);
        let from = x.previous_node.as_deref().unwrap_or("?");
        let title = format!(
            "failover {from} -> {} (epoch {}), {}: outage {} = detection {} + election {} + start {} + readiness {}; {} (budget {})",
            f.node,
            x.epoch,
            x.cause.as_deref().unwrap_or("?"),
            secs(Some(x.outage_ms)),
            secs(x.detection_ms),
            secs(x.election_ms),
            secs(x.start_ms),
            secs(x.readiness_ms),
            if f.within_budget { "within budget" } else { "OVER BUDGET" },
            humantime::format_duration(audit.budget),
        );
        let _ = writeln!(
            o,
            r#"<g><title>{}</title><rect x="{bx:.1}" y="{:.1}" width="{bw:.1}" height="{:.1}" fill="{color}" fill-opacity="0.22"/><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{lanes_bottom:.1}" stroke="{color}" stroke-width="1.5"/></g>"#,
            esc(&title),
            lanes_top - 4.0,
            lanes_bottom - lanes_top + 4.0,
            bx + bw,
            lanes_top - 4.0,
            bx + bw,
        );
        let label = format!("{from}→{} {}", f.node, secs(Some(x.outage_ms)));
        let width = label.chars().count() as f64 * 6.6;
        let anchor_x = (bx + bw / 2.0).clamp(LEFT + width / 2.0, plot_right - width / 2.0);
        let row = (0..LABEL_ROWS)
            .find(|&r| row_ends[r] < anchor_x - width / 2.0 - 6.0)
            .unwrap_or_else(|| (0..LABEL_ROWS).min_by(|&a, &b| row_ends[a].total_cmp(&row_ends[b])).unwrap_or(0));
        row_ends[row] = anchor_x + width / 2.0;
        let label_y = lanes_top - 8.0 - LABEL_ROW * (LABEL_ROWS - 1 - row) as f64;
        let weight = if f.within_budget { "normal" } else { "bold" };
        let label_color = if f.within_budget { "#9a5b00" } else { RED };
        let _ = writeln!(
            o,
            r#"<text x="{anchor_x:.1}" y="{label_y:.1}" text-anchor="middle" font-size="11" font-weight="{weight}" fill="{label_color}"><title>{}</title>{}</text>"#,
            esc(&title),
            esc(&label)
        );
    }

    // Overlaps: red over both hosts' JobManager bars, joined by a red band.
    for overlap in &h.overlaps {
        let (ox, ow) = scale.span(overlap.start, overlap.end, 3.0);
        let lanes: Vec<usize> =
            overlap.nodes.iter().filter_map(|n| h.hosts.iter().position(|host| &host.node == n)).collect();
        let title = format!(
            "overlap: JobManagers of {} and {} both running {} .. {} ({}{})",
            overlap.nodes[0],
            overlap.nodes[1],
            format_time(overlap.start),
            format_time(overlap.end),
            secs_us(overlap.length_us),
            if overlap.inferred { ", end inferred" } else { "" }
        );
        let _ = write!(o, "<g><title>{}</title>", esc(&title));
        if let (Some(&first), Some(&last)) = (lanes.iter().min(), lanes.iter().max()) {
            let top = lanes_top + LANE * first as f64 + 11.0 + BAR + 6.0;
            let bottom = lanes_top + LANE * last as f64 + 11.0 + 2.0 * BAR + 6.0;
            let _ = write!(
                o,
                r#"<rect x="{ox:.1}" y="{top:.1}" width="{ow:.1}" height="{:.1}" fill="{RED}" fill-opacity="0.18"/>"#,
                bottom - top
            );
        }
        for lane in lanes {
            let y = lanes_top + LANE * lane as f64 + 11.0 + BAR + 6.0;
            let _ = write!(
                o,
                r#"<rect x="{ox:.1}" y="{:.1}" width="{ow:.1}" height="{:.1}" fill="{RED}" stroke="{RED}" stroke-width="1"/>"#,
                y - 1.5,
                BAR + 3.0
            );
        }
        let label_x = (ox + ow / 2.0).clamp(LEFT + 60.0, plot_right - 60.0);
        let label_y = lanes_top + LANE * overlap_label_lane(&h.hosts, overlap) + LANE - 4.0;
        let _ = writeln!(
            o,
            r#"<text x="{label_x:.1}" y="{label_y:.1}" text-anchor="middle" font-size="10" font-weight="bold" fill="{RED}">overlap {}</text></g>"#,
            secs_us(overlap.length_us)
        );
    }

    // Legend.
    let ly = height - LEGEND / 2.0;
    let mut lx = 16.0;
    let items: [(&str, &str, f64); 5] = [
        (LEAD, "leadership", 1.0),
        (JM, "JobManager running", 1.0),
        (BAND, "failover outage", 0.45),
        (RED, "over budget / overlap", 1.0),
        ("url(#inferred)", "end inferred (hatched cap)", 1.0),
    ];
    for (fill, label, opacity) in items {
        if fill.starts_with("url") {
            let _ = write!(
                o,
                r#"<rect x="{lx}" y="{:.1}" width="22" height="11" fill="{JM}"/><rect x="{lx}" y="{:.1}" width="22" height="11" fill="{fill}"/>"#,
                ly - 8.0,
                ly - 8.0
            );
        } else {
            let _ = write!(
                o,
                r#"<rect x="{lx}" y="{:.1}" width="22" height="11" fill="{fill}" fill-opacity="{opacity}"/>"#,
                ly - 8.0
            );
        }
        let _ = writeln!(o, r#"<text x="{:.1}" y="{:.1}" fill="{INK}">{label}</text>"#, lx + 28.0, ly + 1.5);
        lx += 28.0 + label.chars().count() as f64 * 6.8 + 22.0;
    }
    o.push_str("</svg>\n");
    o
}

/// The lane under whose JobManager bar an overlap's label goes: the lower of the two.
fn overlap_label_lane(hosts: &[super::rebuild::Host], overlap: &super::rebuild::Overlap) -> f64 {
    overlap.nodes.iter().filter_map(|n| hosts.iter().position(|h| &h.node == n)).max().unwrap_or(0) as f64
}

/// One interval as a bar; an inferred end gets a hatched cap.
fn bar(o: &mut String, scale: &Scale, interval: &Interval, y: f64, color: &str, node: &str, what: &str) {
    let (x, w) = scale.span(interval.start, interval.end, 2.0);
    let epoch = interval.epoch.map(|e| format!(" epoch {e}")).unwrap_or_default();
    let title = format!(
        "{node} {what}{epoch}: {} .. {} ({}), ended by {}{}",
        format_time(interval.start),
        format_time(interval.end),
        secs_us(interval.end - interval.start),
        interval.ended_by,
        if interval.end_inferred { " (inferred)" } else { "" }
    );
    let _ = write!(
        o,
        r#"<g><title>{}</title><rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{BAR}" rx="2" fill="{color}"/>"#,
        esc(&title)
    );
    if interval.end_inferred {
        let cap = (w / 3.0).min(18.0);
        let _ = write!(
            o,
            r#"<rect x="{:.1}" y="{y:.1}" width="{cap:.1}" height="{BAR}" fill="url(#inferred)"/>"#,
            x + w - cap
        );
    }
    o.push_str("</g>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_labels_follow_the_tick_step() {
        let t = super::super::record::parse_time("2026-11-22T18:22:20.628980Z").unwrap();
        assert_eq!(clock(t, 500_000), "18:22:20.628");
        assert_eq!(clock(t, 5_000_000), "18:22:20");
        assert_eq!(clock(t, 300_000_000), "18:22");
        assert_eq!(clock(t, 86_400_000_000), "2026-11-22");
    }

    #[test]
    fn names_are_escaped() {
        assert_eq!(esc(r#"<a&"b">"#), "&lt;a&amp;&quot;b&quot;&gt;");
    }
}
