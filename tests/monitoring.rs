//! The monitoring files in `monitoring/` keep their promises:
//!
//! * the alerting rules pass `promtool check rules` and their unit tests (`promtool test
//!   rules`), and promtool does refuse a broken rule;
//! * every alert waits (`for:`), has a severity, a summary and a description, and unit tests in
//!   which it fires and in which it must not;
//! * the Grafana dashboard is JSON with Grafana's fields (panels with targets, a data source
//!   variable) and PromQL that Prometheus parses;
//! * every metric name in the rules, their unit tests' series and the dashboard is one that a
//!   real daemon (real ZooKeeper, a stand-in JobManager) exports at `/metrics`.
//!
//! promtool comes from Debian's prometheus package (scripts/install-test-deps); `$PROMTOOL`
//! overrides the one on `PATH`.

mod cluster;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use cluster::{Cluster, Options};
use serde_json::Value as Json;
use serde_norway::Value as Yaml;
use support::ZkEnsemble;

const RULES: &str = "monitoring/flink-ha-supervisor.rules.yml";
const RULE_TESTS: &str = "monitoring/flink-ha-supervisor.rules.test.yml";
const DASHBOARD: &str = "monitoring/grafana-dashboard.json";

/// The prefix of every metric the daemon exports.
const PREFIX: &str = "flink_ha_supervisor_";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// `promtool`: `$PROMTOOL`, else from `PATH`.
fn promtool() -> PathBuf {
    std::env::var_os("PROMTOOL").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("promtool"))
}

/// Runs `promtool args` in `dir`: whether it succeeded, and its stdout and stderr.
fn run_promtool(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(promtool()).current_dir(dir).args(args).output().unwrap_or_else(|e| {
        panic!(
            "cannot run {}: {e}; run scripts/install-test-deps (it installs promtool from Debian's \
             prometheus package) or point $PROMTOOL at one",
            promtool().display()
        )
    });
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn rules() -> Yaml {
    serde_norway::from_str(&read(RULES)).unwrap_or_else(|e| panic!("{RULES} is not YAML: {e}"))
}

/// Every rule of every group of the rules file.
fn rule_list(rules: &Yaml) -> Vec<&Yaml> {
    let groups = rules["groups"].as_sequence().unwrap_or_else(|| panic!("{RULES} has no groups"));
    groups.iter().flat_map(|g| g["rules"].as_sequence().map(|r| r.iter()).into_iter().flatten()).collect()
}

fn dashboard() -> Json {
    serde_json::from_str(&read(DASHBOARD)).unwrap_or_else(|e| panic!("{DASHBOARD} is not JSON: {e}"))
}

/// The dashboard's panels, those nested in collapsed rows included.
fn panels(dashboard: &Json) -> Vec<&Json> {
    let mut found = Vec::new();
    let mut pending: Vec<&Json> = dashboard["panels"].as_array().map(|p| p.iter().collect()).unwrap_or_default();
    while let Some(panel) = pending.pop() {
        if let Some(nested) = panel["panels"].as_array() {
            pending.extend(nested);
        }
        found.push(panel);
    }
    found
}

/// Every PromQL expression of the dashboard: its panels' targets and its query variables.
fn dashboard_expressions(dashboard: &Json) -> Vec<String> {
    let mut exprs: Vec<String> = panels(dashboard)
        .into_iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter_map(|t| t["expr"].as_str().map(str::to_string))
        .collect();
    for variable in dashboard["templating"]["list"].as_array().into_iter().flatten() {
        if variable["type"] == "query" {
            let query = variable["query"]["query"].as_str().or(variable["query"].as_str());
            exprs.extend(query.map(str::to_string));
        }
    }
    exprs
}

/// The metric names starting with [`PREFIX`] that `expr` uses: identifiers outside string
/// literals; names with a colon (recording rules, by Prometheus' convention) are not metrics.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut bare = String::new();
    let mut quote = None;
    for c in expr.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if matches!(c, '"' | '\'' | '`') => {
                quote = Some(c);
                bare.push(' ');
            }
            None => bare.push(c),
        }
    }
    let mut names = BTreeSet::new();
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut rest = bare.as_str();
    while let Some(at) = rest.find(PREFIX) {
        let before = rest[..at].chars().next_back();
        let len = rest[at..].find(|c: char| !is_name_char(c)).unwrap_or(rest.len() - at);
        let name = &rest[at..at + len];
        if !before.is_some_and(is_name_char) && !name.contains(':') {
            names.insert(name.to_string());
        }
        rest = &rest[at + len..];
    }
    names
}

/// The series names of an OpenMetrics exposition: what Prometheus stores when it scrapes it
/// (a counter's `_total`, a histogram's `_bucket`, `_sum` and `_count`), each with its family's
/// type.
fn exported_names(exposition: &str) -> BTreeMap<String, String> {
    let mut types = BTreeMap::new();
    for line in exposition.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            if let (Some(family), Some(kind)) = (parts.next(), parts.next()) {
                types.insert(family.to_string(), kind.to_string());
            }
        }
    }
    let mut names = BTreeMap::new();
    for line in exposition.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let name = line.split(['{', ' ']).next().unwrap_or_default();
        let family = types
            .keys()
            .filter(|family| name.starts_with(family.as_str()))
            .max_by_key(|family| family.len())
            .unwrap_or_else(|| panic!("sample {line:?} of no # TYPE family in:\n{exposition}"));
        names.insert(name.to_string(), types[family].clone());
    }
    names
}

/// The names of `used` (name -> where) missing from `exported`, each with where it is used
/// and, for a histogram's base name or a counter without `_total`, what to use instead.
fn unknown_names(used: &BTreeMap<String, String>, exported: &BTreeMap<String, String>) -> Vec<String> {
    used.iter()
        .filter(|(name, _)| !exported.contains_key(*name))
        .map(|(name, place)| {
            let near: Vec<&String> = exported.keys().filter(|e| e.starts_with(name.as_str())).collect();
            let hint = if near.is_empty() { String::new() } else { format!(" (exported: {near:?})") };
            format!("{name} in {place}{hint}")
        })
        .collect()
}

#[test]
fn the_rules_pass_promtool_check_rules() {
    let (ok, out) = run_promtool(&root(), &["check", "rules", RULES]);
    assert!(ok, "promtool check rules {RULES} failed:\n{out}");
}

#[test]
fn the_rules_pass_their_unit_tests() {
    let (ok, out) = run_promtool(&root().join("monitoring"), &["test", "rules", "flink-ha-supervisor.rules.test.yml"]);
    assert!(ok, "promtool test rules {RULE_TESTS} failed:\n{out}");
    assert!(out.contains("SUCCESS"), "promtool test rules {RULE_TESTS} reported no success:\n{out}");
}

#[test]
fn promtool_refuses_a_broken_rule_and_a_failing_unit_test() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.yml"),
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: sum(flink_ha_supervisor_paused\n",
    )
    .unwrap();
    let (ok, out) = run_promtool(dir.path(), &["check", "rules", "broken.yml"]);
    assert!(!ok, "promtool accepted an unbalanced expression:\n{out}");

    // The shipped rules against a unit test that expects the wrong thing: a daemon down for
    // 10 minutes must fire FlinkHaDaemonDown, and the test says it does not.
    std::fs::copy(root().join(RULES), dir.path().join("rules.yml")).unwrap();
    std::fs::write(
        dir.path().join("wrong.test.yml"),
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n      \
         - series: 'up{job=\"flink-ha-supervisor\",instance=\"jm1:8080\"}'\n        values: '0x20'\n    \
         alert_rule_test:\n      - eval_time: 10m\n        alertname: FlinkHaDaemonDown\n        exp_alerts: []\n",
    )
    .unwrap();
    let (ok, out) = run_promtool(dir.path(), &["test", "rules", "wrong.test.yml"]);
    assert!(!ok && out.contains("FlinkHaDaemonDown"), "promtool passed a unit test that expects too little:\n{out}");
}

#[test]
fn every_alert_waits_has_severity_and_annotations_and_tests_that_fire_and_that_must_not() {
    let rules = rules();
    let alerts: Vec<&Yaml> = rule_list(&rules).into_iter().filter(|r| r["alert"].is_string()).collect();
    assert!(alerts.len() >= 7, "{RULES} has only {} alerts", alerts.len());
    let tests: Yaml =
        serde_norway::from_str(&read(RULE_TESTS)).unwrap_or_else(|e| panic!("{RULE_TESTS} is not YAML: {e}"));
    // alertname -> (cases in which it fires, cases in which it must not)
    let mut cases: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for test in tests["tests"].as_sequence().into_iter().flatten() {
        for case in test["alert_rule_test"].as_sequence().into_iter().flatten() {
            let name = case["alertname"].as_str().unwrap_or_default().to_string();
            let fires = case["exp_alerts"].as_sequence().is_some_and(|a| !a.is_empty());
            let entry = cases.entry(name).or_default();
            if fires {
                entry.0 += 1;
            } else {
                entry.1 += 1;
            }
        }
    }
    let mut problems = Vec::new();
    for alert in alerts {
        let name = alert["alert"].as_str().unwrap();
        if !alert["for"].is_string() {
            problems
                .push(format!("{name}: no `for:` (a normal failover must not page; `for: 0m` for a counter's window)"));
        }
        if !matches!(alert["labels"]["severity"].as_str(), Some("critical" | "warning")) {
            problems.push(format!("{name}: labels.severity is not critical or warning"));
        }
        for key in ["summary", "description"] {
            if alert["annotations"][key].as_str().is_none_or(|text| text.trim().is_empty()) {
                problems.push(format!("{name}: no annotations.{key}"));
            }
        }
        match cases.get(name) {
            Some((fires, _)) if *fires == 0 => problems.push(format!("{name}: no unit test in which it fires")),
            Some((_, silent)) if *silent == 0 => {
                problems.push(format!("{name}: no unit test in which it must not fire"))
            }
            None => problems.push(format!("{name}: no unit test")),
            Some(_) => {}
        }
    }
    assert!(
        problems.is_empty(),
        "alerts of {RULES} fall short:\n  {}\nfix: give each alert a `for:`, labels.severity, \
         annotations.summary and .description, and cases in {RULE_TESTS} that fire it and that must not",
        problems.join("\n  ")
    );
}

#[test]
fn the_dashboard_is_grafana_json_with_promql_that_parses() {
    let dashboard = dashboard();
    assert!(dashboard["title"].is_string() && dashboard["uid"].is_string(), "{DASHBOARD}: no title or uid");
    let variables =
        dashboard["templating"]["list"].as_array().unwrap_or_else(|| panic!("{DASHBOARD}: no templating.list"));
    let datasource = variables
        .iter()
        .find(|v| v["type"] == "datasource" && v["query"] == "prometheus")
        .unwrap_or_else(|| panic!("{DASHBOARD}: no data source variable (type \"datasource\", query \"prometheus\")"));
    let uid = format!("${{{}}}", datasource["name"].as_str().unwrap());

    let panels = panels(&dashboard);
    assert!(panels.len() >= 5, "{DASHBOARD} has only {} panels", panels.len());
    let mut problems = Vec::new();
    let mut ids = BTreeSet::new();
    for panel in &panels {
        let title = panel["title"].as_str().unwrap_or("(untitled)");
        let id = panel["id"].as_u64();
        if !id.is_some_and(|id| ids.insert(id)) {
            problems.push(format!("{title}: no id, or one used twice"));
        }
        if !["h", "w", "x", "y"].iter().all(|k| panel["gridPos"][k].is_u64()) {
            problems.push(format!("{title}: no gridPos h, w, x, y"));
        }
        if panel["type"] == "row" {
            continue;
        }
        if panel["datasource"]["uid"].as_str() != Some(uid.as_str()) {
            problems.push(format!("{title}: datasource.uid is not {uid}"));
        }
        let targets = panel["targets"].as_array().map(Vec::as_slice).unwrap_or_default();
        if targets.is_empty() {
            problems.push(format!("{title}: no targets"));
        }
        let mut ref_ids = BTreeSet::new();
        for target in targets {
            if target["expr"].as_str().is_none_or(|e| e.trim().is_empty()) {
                problems.push(format!("{title}: a target without expr"));
            }
            if !target["refId"].as_str().is_some_and(|r| ref_ids.insert(r.to_string())) {
                problems.push(format!("{title}: a target without refId, or one used twice"));
            }
        }
    }
    assert!(problems.is_empty(), "{DASHBOARD} is not a usable Grafana dashboard:\n  {}", problems.join("\n  "));

    // Prometheus' own parser on every expression: each one as a recording rule, with Grafana's
    // variables replaced by values.
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, expr) in dashboard_expressions(&dashboard).iter().filter(|e| !e.starts_with("label_values(")).enumerate() {
        let expr = expr.replace("$job", "flink-ha-supervisor").replace("$__rate_interval", "1m");
        rules +=
            &format!("      - record: dashboard:expr{i}\n        expr: {}\n", serde_json::to_string(&expr).unwrap());
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dashboard.yml"), &rules).unwrap();
    let (ok, out) = run_promtool(dir.path(), &["check", "rules", "dashboard.yml"]);
    assert!(ok, "PromQL of {DASHBOARD} does not parse:\n{out}\n--- as rules ---\n{rules}");
}

#[test]
fn metric_names_are_read_from_promql_outside_strings() {
    let names = metric_names(
        "sum by (job) (rate(flink_ha_supervisor_failovers_total{job=\"flink_ha_supervisor_x\"}[5m]))\n\
         / flink_ha_supervisor:recorded + my_flink_ha_supervisor_other + flink_ha_supervisor_nope",
    );
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(names, ["flink_ha_supervisor_failovers_total", "flink_ha_supervisor_nope"]);
    let exported =
        exported_names("# TYPE flink_ha_supervisor_failovers counter\nflink_ha_supervisor_failovers_total 0\n# EOF\n");
    let used: BTreeMap<String, String> = names.iter().map(|n| (n.to_string(), "here".to_string())).collect();
    assert_eq!(unknown_names(&used, &exported), ["flink_ha_supervisor_nope in here"]);
}

#[test]
fn the_rules_and_the_dashboard_use_only_metrics_a_real_daemon_exports() {
    let mut used: BTreeMap<String, String> = BTreeMap::new();
    let rules = rules();
    for rule in rule_list(&rules) {
        let name = rule["alert"].as_str().or(rule["record"].as_str()).unwrap_or("?");
        for metric in metric_names(rule["expr"].as_str().unwrap_or_default()) {
            used.entry(metric).or_insert_with(|| format!("{RULES} ({name})"));
        }
    }
    let rule_metrics = used.len();
    let tests: Yaml =
        serde_norway::from_str(&read(RULE_TESTS)).unwrap_or_else(|e| panic!("{RULE_TESTS} is not YAML: {e}"));
    for test in tests["tests"].as_sequence().into_iter().flatten() {
        for input in test["input_series"].as_sequence().into_iter().flatten() {
            for metric in metric_names(input["series"].as_str().unwrap_or_default()) {
                used.entry(metric).or_insert_with(|| format!("{RULE_TESTS} (input_series)"));
            }
        }
    }
    for expr in dashboard_expressions(&dashboard()) {
        for metric in metric_names(&expr) {
            used.entry(metric).or_insert_with(|| DASHBOARD.to_string());
        }
    }
    assert!(rule_metrics >= 5 && used.len() > rule_metrics, "too few metric names found: {used:?}");

    let zk = ZkEnsemble::start(1);
    let mut cluster = Cluster::new(1, Options::default(), |_| zk.connect_string());
    cluster.start_leader();
    let (code, body) =
        cluster.http_get(0, "/metrics").unwrap_or_else(|e| panic!("GET /metrics: {e}\n{}", cluster.dump()));
    assert_eq!(code, 200, "{body}");
    let exported = exported_names(&body);
    assert!(exported.keys().any(|n| n.starts_with(PREFIX)), "no {PREFIX} metric in:\n{body}");

    let unknown = unknown_names(&used, &exported);
    assert!(
        unknown.is_empty(),
        "metric names the daemon does not export:\n  {}\nexported: {:?}\nfix: use the names of \
         GET /metrics (a counter with _total, a histogram with _bucket, _sum or _count)",
        unknown.join("\n  "),
        exported.keys().collect::<Vec<_>>()
    );
}
