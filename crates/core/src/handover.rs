//! The planned handover's rules: whether `handover` may ask for one (and what it asks), when the
//! request is fulfilled, and how a daemon reads a pending request. The adapters read ZooKeeper,
//! call these and write or report what they return.

use std::fmt;
use std::time::Duration;

use crate::controls::HandoverNote;
use crate::failover::{LeaderRecord, TermState};
use crate::identity::Contender;
use crate::machine::{HandoverRequest, HandoverTarget};
use crate::walltime;

/// Why a daemon ignores a pending handover request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// The request node's data is not a handover request.
    Malformed(String),
    /// The request names a node that has no election node (or the election could not be listed).
    TargetNotLive(String),
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ignored::Malformed(why) => write!(f, "the handover request is malformed ({why}); ignored"),
            Ignored::TargetNotLive(to) => {
                write!(f, "the handover target {to} is not a live contender; request ignored")
            }
        }
    }
}

/// A daemon's reading of the handover request `data`, as node `this_node` sees it. `contenders`
/// is the election's queue as listed now, `None` when it could not be listed.
pub fn judge_request(
    data: &[u8],
    this_node: &str,
    contenders: Option<&[Contender]>,
) -> Result<HandoverRequest, Ignored> {
    let note: HandoverNote = serde_json::from_slice(data).map_err(|e| Ignored::Malformed(e.to_string()))?;
    let target = match note.to.as_deref() {
        None => HandoverTarget::Any,
        Some(to) if to == this_node => HandoverTarget::ThisNode,
        Some(to) if contenders.is_some_and(|queue| queue.iter().any(|c| c.node_id() == Some(to))) => {
            HandoverTarget::OtherNode
        }
        Some(to) => return Err(Ignored::TargetNotLive(to.to_string())),
    };
    Ok(HandoverRequest { from_epoch: note.from_epoch, target })
}

/// What the `handover` command does, decided from what it read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to do; the text says why (the target already leads).
    NothingToDo(String),
    /// Refused; the text says why and what to do.
    Refused(String),
    /// Write this request.
    Request(Plan),
}

/// A handover to request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The leader's term.
    pub from_epoch: u64,
    /// The leader's node id (`?` when its identity is unreadable).
    pub from_node: String,
    /// Who is to lead next; `None` for the next in line.
    pub to: Option<String>,
}

fn node_id(c: &Contender) -> &str {
    c.node_id().unwrap_or("?")
}

/// The `handover` command's rules: no handover while paused, nor without a leader, nor to a node
/// that does not contend, nor without a standby. `contenders` is the queue, the leader first.
pub fn decide(paused: bool, contenders: &[Contender], election_path: &str, to: Option<&str>) -> Decision {
    if paused {
        return Decision::Refused(
            "the cluster is paused (maintenance mode): a handover would leave it without a JobManager; run `resume` first".into(),
        );
    }
    let Some(leader) = contenders.first() else {
        return Decision::Refused(format!("no leader under {election_path}: nothing to hand over"));
    };
    let alive: Vec<&str> = contenders.iter().map(node_id).collect();
    match to {
        Some(target) if target == node_id(leader) => {
            return Decision::NothingToDo(format!("{target} already leads (term {}); nothing to do", leader.sequence))
        }
        Some(target) if !alive.contains(&target) => {
            return Decision::Refused(format!(
                "{target} is not a live contender; alive: {}; start its daemon or name one of them",
                alive.join(", ")
            ))
        }
        None if contenders.len() < 2 => {
            return Decision::Refused(format!(
                "{} is the only contender: no standby to hand over to; start another daemon first",
                node_id(leader)
            ))
        }
        _ => {}
    }
    Decision::Request(Plan {
        from_epoch: leader.sequence,
        from_node: node_id(leader).to_string(),
        to: to.map(str::to_string),
    })
}

impl Plan {
    /// The request node's data, signed by `requested_by` at `requested_ms`.
    pub fn note(&self, requested_by: String, requested_ms: i64) -> HandoverNote {
        HandoverNote {
            from_epoch: self.from_epoch,
            from_node: self.from_node.clone(),
            to: self.to.clone(),
            requested_by,
            requested_ms,
        }
    }

    /// Whether a request already pending at `path` may be replaced: one against an older term is
    /// stale (its leader is gone), as is an unreadable one (`pending` is `None` or not a note).
    /// `Err` is the refusal.
    pub fn replaces(&self, pending: Option<&[u8]>, path: &str) -> Result<(), String> {
        let current = pending
            .and_then(|data| serde_json::from_slice::<HandoverNote>(data).ok())
            .is_some_and(|note| note.from_epoch == self.from_epoch);
        if current {
            return Err(format!("a handover of term {} is already in progress ({path})", self.from_epoch));
        }
        Ok(())
    }

    /// What the command says once the request is written and it does not wait.
    pub fn requested(&self) -> String {
        let whom = self.to.as_deref().unwrap_or("the next contender");
        format!("handover requested: {} (term {}) steps down for {whom}", self.from_node, self.from_epoch)
    }

    /// What the command says when the leader record `record` shows the handover done, `elapsed`
    /// after the request; `None` while it is not: the record must be of a new term, its
    /// JobManager serving, on the named target if any.
    pub fn fulfilled(&self, record: &[u8], elapsed: Duration) -> Option<String> {
        let record = serde_json::from_slice::<LeaderRecord>(record).ok()?;
        let target_ok = self.to.as_deref().is_none_or(|t| t == record.node);
        (record.epoch != self.from_epoch && record.state == TermState::Serving && target_ok).then(|| {
            format!(
                "handover from {} to {} took {:.2}s (its JobManager is ready, term {})",
                self.from_node,
                record.node,
                elapsed.as_secs_f64(),
                record.epoch
            )
        })
    }
}

/// What the command says when no new JobManager was ready within `timeout`.
pub fn timed_out(timeout: Duration) -> String {
    format!(
        "handover requested, but no new JobManager was ready within {}; see `flink-ha-supervisor status` and the daemons' logs",
        walltime::format_duration(timeout)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failover::RECORD_VERSION;

    fn contender(sequence: u64, node: &str) -> Contender {
        Contender { name: format!("_c_x-latch-{sequence:010}"), sequence, identity: Ok(crate::identity::example(node)) }
    }

    fn note(to: Option<&str>) -> Vec<u8> {
        let plan = Plan { from_epoch: 7, from_node: "jm1".into(), to: to.map(String::from) };
        serde_json::to_vec(&plan.note("ops@h".into(), 5)).unwrap()
    }

    #[test]
    fn a_daemon_reads_the_target_relative_to_itself() {
        let queue = [contender(7, "jm1"), contender(8, "jm2")];
        let request = |to, queue| judge_request(&note(to), "jm1", queue);
        assert_eq!(request(None, None).unwrap().target, HandoverTarget::Any);
        assert_eq!(request(Some("jm1"), None).unwrap().target, HandoverTarget::ThisNode);
        assert_eq!(request(Some("jm2"), Some(&queue[..])).unwrap().target, HandoverTarget::OtherNode);
        assert_eq!(request(Some("jm2"), Some(&queue[..])).unwrap().from_epoch, 7);
        assert_eq!(request(Some("jm3"), Some(&queue[..])), Err(Ignored::TargetNotLive("jm3".into())));
        assert_eq!(request(Some("jm2"), None), Err(Ignored::TargetNotLive("jm2".into())));
        assert!(matches!(judge_request(b"{}", "jm1", None), Err(Ignored::Malformed(_))));
    }

    #[test]
    fn the_command_refuses_what_cannot_be_done() {
        let queue = [contender(7, "jm1"), contender(8, "jm2")];
        let refused = |d: Decision| match d {
            Decision::Refused(why) => why,
            other => panic!("{other:?}"),
        };
        assert!(refused(decide(true, &queue, "/p", None)).contains("paused"));
        assert_eq!(refused(decide(false, &[], "/p", None)), "no leader under /p: nothing to hand over");
        assert!(refused(decide(false, &queue[..1], "/p", None)).starts_with("jm1 is the only contender"));
        assert!(refused(decide(false, &queue, "/p", Some("jm3"))).contains("alive: jm1, jm2"));
        assert!(matches!(decide(false, &queue, "/p", Some("jm1")), Decision::NothingToDo(_)));
        let plan = Plan { from_epoch: 7, from_node: "jm1".into(), to: Some("jm2".into()) };
        assert_eq!(decide(false, &queue, "/p", Some("jm2")), Decision::Request(plan));
    }

    #[test]
    fn only_a_request_of_an_older_term_is_replaced() {
        let plan = Plan { from_epoch: 7, from_node: "jm1".into(), to: None };
        assert!(plan.replaces(Some(&note(None)), "/p-handover").is_err());
        let older = Plan { from_epoch: 6, ..plan.clone() };
        assert_eq!(older.replaces(Some(&note(None)), "/p"), Ok(()));
        assert_eq!(plan.replaces(None, "/p"), Ok(()));
        assert_eq!(plan.replaces(Some(b"garbage"), "/p"), Ok(()));
    }

    #[test]
    fn a_new_serving_term_on_the_target_fulfils_it() {
        let record = |node: &str, epoch, state| {
            serde_json::to_vec(&LeaderRecord {
                v: RECORD_VERSION,
                node: node.into(),
                epoch,
                state,
                reason: None,
                serving_until_ms: None,
                outage_start_ms: None,
                session_timeout_ms: 10_000,
                leader_since_ms: None,
                last_failover: None,
            })
            .unwrap()
        };
        let plan = Plan { from_epoch: 7, from_node: "jm1".into(), to: Some("jm2".into()) };
        let took = Duration::from_millis(1500);
        assert_eq!(plan.fulfilled(&record("jm1", 7, TermState::Serving), took), None);
        assert_eq!(plan.fulfilled(&record("jm2", 8, TermState::Starting), took), None);
        assert_eq!(plan.fulfilled(&record("jm3", 8, TermState::Serving), took), None);
        let done = plan.fulfilled(&record("jm2", 8, TermState::Serving), took).unwrap();
        assert_eq!(done, "handover from jm1 to jm2 took 1.50s (its JobManager is ready, term 8)");
        assert!(timed_out(Duration::from_secs(60)).contains("within 1m;"));
    }
}
