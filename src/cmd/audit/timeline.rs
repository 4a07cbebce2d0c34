//! The audit as a self-contained SVG timeline: a lane per host with its leadership and
//! JobManager-running intervals, every failover as a band over its outage, violations and
//! overlaps in red, and a time axis. Below the overview, each finding (an overlap or a failover
//! over budget, at most [`MAX_DETAILS`]) gets a zoomed panel of its own, since a few seconds of
//! split brain vanish on an axis of hours.

use std::fmt::Write as _;

use super::rebuild::{FailoverRow, History, Interval, Overlap};
use super::record::{format_time, printable, Micros, MAX_TIME};
use super::report::{secs, secs_us};
use super::Audit;
use flink_ha_core::walltime::format_duration;

/// Zoomed panels drawn at most.
pub(crate) const MAX_DETAILS: usize = 4;

const WIDTH: f64 = 1400.0;
const LEFT: f64 = 170.0;
const RIGHT: f64 = 30.0;
const TITLE: f64 = 58.0;
const LABEL_ROW: f64 = 15.0;
const LABEL_ROWS: usize = 3;
const LANE: f64 = 56.0;
const BAR: f64 = 16.0;
const BAR_TOP: f64 = 9.0;
const BAR_GAP: f64 = 5.0;
const AXIS: f64 = 44.0;
const LEGEND: f64 = 40.0;
const PANEL_GAP: f64 = 26.0;

const LEAD: &str = "#3b6fb6";
const JM: &str = "#2e9d5b";
const BAND: &str = "#f2a33a";
const RED: &str = "#d62728";
const GRID: &str = "#e3e3e3";
const INK: &str = "#222";
const MUTED: &str = "#666";

const SECOND: i64 = 1_000_000;
const DAY: i64 = 86_400 * SECOND;

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
    SECOND,
    2 * SECOND,
    5 * SECOND,
    10 * SECOND,
    15 * SECOND,
    30 * SECOND,
    60 * SECOND,
    120 * SECOND,
    300 * SECOND,
    600 * SECOND,
    900 * SECOND,
    1800 * SECOND,
    3600 * SECOND,
    7200 * SECOND,
    10_800 * SECOND,
    21_600 * SECOND,
    43_200 * SECOND,
    DAY,
];

/// Maps time to x over the plot's width.
#[derive(Debug, Clone, Copy)]
struct Scale {
    t0: Micros,
    t1: Micros,
}

impl Scale {
    fn x(&self, t: Micros) -> f64 {
        let t = t.clamp(self.t0, self.t1);
        let span = self.t1.saturating_sub(self.t0).max(1);
        LEFT + t.saturating_sub(self.t0) as f64 / span as f64 * (WIDTH - LEFT - RIGHT)
    }

    /// x and width of `[start, end]` clipped to the plot, at least `min` pixels wide; `None` when
    /// it lies outside.
    fn span(&self, start: Micros, end: Micros, min: f64) -> Option<(f64, f64)> {
        if end < self.t0 || start > self.t1 {
            return None;
        }
        let (a, b) = (self.x(start), self.x(end));
        let w = (b - a).max(min);
        Some((a.min(WIDTH - RIGHT - w), w))
    }
}

/// Text for XML: control characters (which XML cannot hold even as references) written as
/// escapes (see [`printable`]), then `&`, `<`, `>` and `"` as entities.
fn esc(text: &str) -> String {
    printable(text).replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// `value` clamped to `[lo, hi]`, or the middle of the two when `lo > hi` (a label wider than
/// the plot).
fn clamp_or_middle(value: f64, lo: f64, hi: f64) -> f64 {
    if lo > hi {
        (lo + hi) / 2.0
    } else {
        value.clamp(lo, hi)
    }
}

/// `HH:MM:SS` (or with milliseconds, or `HH:MM`, or the date) of a time, for axis labels.
fn clock(t: Micros, step: i64) -> String {
    let full = format_time(t);
    let range = if step >= DAY {
        0..10
    } else if step >= 60 * SECOND {
        11..16
    } else if step >= SECOND {
        11..19
    } else {
        11..23
    };
    full.get(range).unwrap_or(&full).to_string()
}

/// `[lo, hi]` (within the times a record can hold) widened by a fortieth on each side, and at
/// least by `min_pad`.
fn padded(lo: Micros, hi: Micros, min_pad: i64) -> Scale {
    let (lo, hi) = (lo.clamp(0, MAX_TIME), hi.clamp(0, MAX_TIME));
    let (lo, hi) = (lo.min(hi), hi.max(lo));
    let pad = ((hi - lo) / 40).max(min_pad);
    Scale { t0: lo - pad, t1: hi + pad }
}

/// The tick spacing that gives at most a dozen ticks over `span` µs: one of [`STEPS`], or whole
/// days.
fn tick_step(span: i64) -> i64 {
    STEPS
        .iter()
        .copied()
        .find(|step| span / step <= 12)
        .unwrap_or_else(|| (span / 12 / DAY).saturating_add(1).saturating_mul(DAY))
}

/// The overview's range: every record, interval and failover.
fn overview(history: &History) -> Scale {
    let mut lo = Micros::MAX;
    let mut hi = Micros::MIN;
    let mut take = |t: Micros| {
        lo = lo.min(t);
        hi = hi.max(t);
    };
    for host in &history.hosts {
        take(host.first_record);
        take(host.last_record);
        for i in host.leadership.iter().chain(&host.jobmanager) {
            take(i.start);
            take(i.end);
        }
    }
    for f in &history.failovers {
        take(f.logged_at);
        f.figures.outage_start.into_iter().chain(f.figures.ready_at).for_each(&mut take);
    }
    if lo > hi {
        return Scale { t0: 0, t1: SECOND };
    }
    padded(lo, hi, SECOND / 2)
}

/// The outage of a failover on the server clock (or the instant it was logged).
fn outage(f: &FailoverRow) -> (Micros, Micros) {
    let end = f.figures.ready_at.unwrap_or(f.logged_at);
    (f.figures.outage_start.unwrap_or(end).min(end), end)
}

/// A zoomed panel: its caption and range.
struct Detail {
    caption: String,
    scale: Scale,
}

/// Panels for the overlaps, then the failovers over budget; each spans its finding and any
/// failover outage that touches it.
fn details(audit: &Audit) -> Vec<Detail> {
    let h = &audit.history;
    let widen = |mut lo: Micros, mut hi: Micros| {
        let margin = hi.saturating_sub(lo).max(5 * SECOND);
        for f in &h.failovers {
            let (a, b) = outage(f);
            if b >= lo.saturating_sub(margin) && a <= hi.saturating_add(margin) {
                lo = lo.min(a);
                hi = hi.max(b);
            }
        }
        padded(lo, hi, SECOND)
    };
    let overlaps = h.overlaps.iter().map(|o| Detail {
        caption: format!(
            "overlap: JobManagers of {} and {} both running for {}",
            o.nodes[0],
            o.nodes[1],
            secs_us(o.length_us)
        ),
        scale: widen(o.start, o.end),
    });
    let violations = h.failovers.iter().filter(|f| !f.within_budget).map(|f| {
        let (a, b) = outage(f);
        Detail {
            caption: format!(
                "over budget: failover {} -> {}, outage {} (budget {})",
                f.figures.previous_node.as_deref().unwrap_or("?"),
                f.node,
                secs(Some(f.figures.outage_ms)),
                format_duration(audit.budget)
            ),
            scale: widen(a, b),
        }
    });
    overlaps.chain(violations).take(MAX_DETAILS).collect()
}

/// Draws the audit as an SVG document.
pub(crate) fn svg(audit: &Audit) -> String {
    let mut body = String::new();
    title(&mut body, audit);
    let mut y = plot(&mut body, audit, overview(&audit.history), TITLE);
    let details = details(audit);
    let findings = audit.history.overlaps.len() + audit.summary.violations;
    for (i, detail) in details.iter().enumerate() {
        y += PANEL_GAP;
        let more = if i + 1 == details.len() && findings > details.len() {
            format!(" ({} more findings not drawn)", findings - details.len())
        } else {
            String::new()
        };
        let _ = writeln!(
            body,
            r#"<line x1="16" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{GRID}"/><text x="16" y="{:.1}" font-size="13" font-weight="bold" fill="{RED}">Detail {}: {}{}</text>"#,
            y - 18.0,
            WIDTH - RIGHT,
            y - 18.0,
            y + 2.0,
            i + 1,
            esc(&detail.caption),
            esc(&more)
        );
        y = plot(&mut body, audit, detail.scale, y + 4.0);
    }
    legend(&mut body, y + LEGEND / 2.0);
    let height = (y + LEGEND).ceil();
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">
<defs><pattern id="inferred" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="3" height="6" fill="#fff" fill-opacity="0.75"/></pattern></defs>
<rect width="100%" height="100%" fill="#fff"/>
{body}</svg>
"##
    )
}

fn title(o: &mut String, audit: &Audit) {
    let s = &audit.summary;
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
        format_duration(audit.budget),
        s.violations,
        s.overlaps,
        if s.overlaps == 1 { "" } else { "s" }
    );
}

/// Draws failover labels, the lanes and the axis from `top` over `scale`; returns the bottom.
fn plot(o: &mut String, audit: &Audit, scale: Scale, top: f64) -> f64 {
    let h = &audit.history;
    let lanes_top = top + LABEL_ROW * LABEL_ROWS as f64 + 6.0;
    let lanes_bottom = lanes_top + LANE * h.hosts.len() as f64;
    let lane_y = |i: usize| lanes_top + LANE * i as f64;
    let jm_y = |i: usize| lane_y(i) + BAR_TOP + BAR + BAR_GAP;

    // Lane backgrounds and names.
    for (i, host) in h.hosts.iter().enumerate() {
        let y = lane_y(i);
        if i % 2 == 1 {
            let _ = writeln!(o, r##"<rect x="0" y="{y:.1}" width="{WIDTH}" height="{LANE}" fill="#f4f5f8"/>"##);
        }
        let _ = writeln!(
            o,
            r#"<text x="16" y="{:.1}" font-size="14" font-weight="bold" fill="{INK}">{}</text>"#,
            y + LANE / 2.0 + 5.0,
            esc(&host.node)
        );
        for (label, bar_y) in [("leader", y + BAR_TOP), ("JobManager", jm_y(i))] {
            let _ = writeln!(
                o,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="10" fill="{MUTED}">{label}</text>"#,
                LEFT - 6.0,
                bar_y + BAR / 2.0 + 3.5
            );
        }
    }

    // Grid and axis.
    let step = tick_step(scale.t1 - scale.t0);
    let mut tick = scale.t0.div_euclid(step).saturating_mul(step).saturating_add(step);
    while tick < scale.t1 {
        let x = scale.x(tick);
        let _ = writeln!(
            o,
            r#"<line x1="{x:.1}" y1="{lanes_top:.1}" x2="{x:.1}" y2="{:.1}" stroke="{GRID}"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="{MUTED}">{}</text>"#,
            lanes_bottom + 4.0,
            lanes_bottom + 18.0,
            clock(tick, step)
        );
        tick = tick.saturating_add(step);
    }
    let _ = writeln!(
        o,
        r#"<line x1="{LEFT}" y1="{lanes_bottom:.1}" x2="{:.1}" y2="{lanes_bottom:.1}" stroke="{MUTED}"/><text x="{LEFT}" y="{:.1}" font-size="11" fill="{MUTED}">{} UTC · intervals on the hosts' clocks, failover outages on the ZooKeeper server's clock</text>"#,
        WIDTH - RIGHT,
        lanes_bottom + 35.0,
        format_time(scale.t0).get(..10).unwrap_or_default()
    );

    // Failovers: a band over each outage, a line at its end, a label above the lanes.
    let mut row_ends = [f64::MIN; LABEL_ROWS];
    for f in &h.failovers {
        let (start, end) = outage(f);
        let Some((bx, bw)) = scale.span(start, end, 2.0) else { continue };
        let x = &f.figures;
        let color = if f.within_budget { BAND } else { RED };
        let from = x.previous_node.as_deref().unwrap_or("?");
        let title = esc(&format!(
            "failover {from} -> {} (epoch {}), {}: outage {} = detection {} + election {} + start {} + readiness {}; {} (budget {})",
            f.node,
            f.epoch,
            x.cause.as_deref().unwrap_or("?"),
            secs(Some(x.outage_ms)),
            secs(x.detection_ms),
            secs(x.election_ms),
            secs(x.start_ms),
            secs(x.readiness_ms),
            if f.within_budget { "within budget" } else { "OVER BUDGET" },
            format_duration(audit.budget),
        ));
        let _ = writeln!(
            o,
            r#"<g><title>{title}</title><rect x="{bx:.1}" y="{:.1}" width="{bw:.1}" height="{:.1}" fill="{color}" fill-opacity="0.25"/><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{lanes_bottom:.1}" stroke="{color}" stroke-width="1.5"/></g>"#,
            lanes_top - 4.0,
            lanes_bottom - lanes_top + 4.0,
            bx + bw,
            lanes_top - 4.0,
            bx + bw,
        );
        let label = format!("{from}→{} {}", f.node, secs(Some(x.outage_ms)));
        let width = label.chars().count() as f64 * 6.6;
        let anchor_x = clamp_or_middle(bx + bw / 2.0, LEFT + width / 2.0, WIDTH - RIGHT - width / 2.0);
        let row = (0..LABEL_ROWS)
            .find(|&r| row_ends[r] < anchor_x - width / 2.0 - 6.0)
            .unwrap_or_else(|| (0..LABEL_ROWS).min_by(|&a, &b| row_ends[a].total_cmp(&row_ends[b])).unwrap_or(0));
        row_ends[row] = anchor_x + width / 2.0;
        let label_y = lanes_top - 8.0 - LABEL_ROW * (LABEL_ROWS - 1 - row) as f64;
        let (weight, label_color) = if f.within_budget { ("normal", "#9a5b00") } else { ("bold", RED) };
        let _ = writeln!(
            o,
            r#"<text x="{anchor_x:.1}" y="{label_y:.1}" text-anchor="middle" font-size="11" font-weight="{weight}" fill="{label_color}"><title>{title}</title>{}</text>"#,
            esc(&label)
        );
    }

    // Bars.
    for (i, host) in h.hosts.iter().enumerate() {
        for interval in &host.leadership {
            bar(o, &scale, interval, lane_y(i) + BAR_TOP, LEAD, &host.node, "leader");
        }
        for interval in &host.jobmanager {
            bar(o, &scale, interval, jm_y(i), JM, &host.node, "JobManager");
        }
    }

    // Overlaps: red over both hosts' JobManager bars, joined by a red band.
    for overlap in &h.overlaps {
        let Some((ox, ow)) = scale.span(overlap.start, overlap.end, 3.0) else { continue };
        let lanes: Vec<usize> =
            overlap.nodes.iter().filter_map(|n| h.hosts.iter().position(|host| &host.node == n)).collect();
        let _ = write!(o, "<g><title>{}</title>", esc(&overlap_title(overlap)));
        if let (Some(&first), Some(&last)) = (lanes.iter().min(), lanes.iter().max()) {
            let (top, bottom) = (jm_y(first), jm_y(last) + BAR);
            let _ = write!(
                o,
                r#"<rect x="{ox:.1}" y="{top:.1}" width="{ow:.1}" height="{:.1}" fill="{RED}" fill-opacity="0.2"/>"#,
                bottom - top
            );
            for &lane in &lanes {
                let _ = write!(
                    o,
                    r#"<rect x="{ox:.1}" y="{:.1}" width="{ow:.1}" height="{:.1}" fill="{RED}"/>"#,
                    jm_y(lane) - 2.0,
                    BAR + 4.0
                );
            }
            let label_x = clamp_or_middle(ox + ow / 2.0, LEFT + 60.0, WIDTH - RIGHT - 60.0);
            let _ = write!(
                o,
                r#"<text x="{label_x:.1}" y="{:.1}" text-anchor="middle" font-size="10" font-weight="bold" fill="{RED}">overlap {}</text>"#,
                jm_y(last) + BAR + 12.0,
                secs_us(overlap.length_us)
            );
        }
        o.push_str("</g>\n");
    }
    lanes_bottom + AXIS
}

fn overlap_title(overlap: &Overlap) -> String {
    format!(
        "overlap: JobManagers of {} and {} both running {} .. {} ({}{})",
        overlap.nodes[0],
        overlap.nodes[1],
        format_time(overlap.start),
        format_time(overlap.end),
        secs_us(overlap.length_us),
        if overlap.inferred { ", end inferred" } else { "" }
    )
}

fn legend(o: &mut String, y: f64) {
    let mut x = 16.0;
    let items: [(&str, &str, f64); 5] = [
        (LEAD, "leadership", 1.0),
        (JM, "JobManager running", 1.0),
        (BAND, "failover outage", 0.45),
        (RED, "over budget / overlap", 1.0),
        ("url(#inferred)", "end inferred (hatched)", 1.0),
    ];
    for (fill, label, opacity) in items {
        if fill.starts_with("url") {
            let _ = write!(o, r#"<rect x="{x}" y="{:.1}" width="22" height="11" fill="{JM}"/>"#, y - 8.0);
        }
        let _ = write!(
            o,
            r#"<rect x="{x}" y="{:.1}" width="22" height="11" fill="{fill}" fill-opacity="{opacity}"/><text x="{:.1}" y="{:.1}" fill="{INK}">{label}</text>"#,
            y - 8.0,
            x + 28.0,
            y + 1.5
        );
        o.push('\n');
        x += 28.0 + label.chars().count() as f64 * 6.8 + 22.0;
    }
}

/// One interval as a bar; an inferred end gets a hatched cap.
fn bar(o: &mut String, scale: &Scale, interval: &Interval, y: f64, color: &str, node: &str, what: &str) {
    let Some((x, w)) = scale.span(interval.start, interval.end, 2.0) else { return };
    let epoch = interval.epoch.map(|e| format!(" epoch {e}")).unwrap_or_default();
    let title = format!(
        "{node} {what}{epoch}: {} .. {} ({}), ended by {}{}",
        format_time(interval.start),
        format_time(interval.end),
        secs_us(interval.end.saturating_sub(interval.start)),
        interval.ended_by,
        if interval.end_inferred { " (inferred)" } else { "" }
    );
    let _ = write!(
        o,
        r#"<g><title>{}</title><rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{BAR}" rx="2" fill="{color}"/>"#,
        esc(&title)
    );
    if interval.end_inferred && interval.end <= scale.t1 {
        let cap = (w / 3.0).min(24.0);
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
        assert_eq!(clock(t, 5 * SECOND), "18:22:20");
        assert_eq!(clock(t, 300 * SECOND), "18:22");
        assert_eq!(clock(t, DAY), "2026-11-22");
    }

    #[test]
    fn names_are_escaped() {
        assert_eq!(esc(r#"<a&"b">"#), "&lt;a&amp;&quot;b&quot;&gt;");
    }

    #[test]
    fn spans_are_clipped_to_the_plot() {
        let scale = Scale { t0: 0, t1: 100 * SECOND };
        assert_eq!(scale.span(-20 * SECOND, -10 * SECOND, 2.0), None);
        let (x, w) = scale.span(-20 * SECOND, 50 * SECOND, 2.0).unwrap();
        assert_eq!(x, LEFT);
        assert!((w - (WIDTH - LEFT - RIGHT) / 2.0).abs() < 1e-9);
        let (_, w) = scale.span(SECOND, SECOND, 2.0).unwrap();
        assert_eq!(w, 2.0);
    }
}
