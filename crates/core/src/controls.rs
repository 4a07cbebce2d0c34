//! The operator controls kept in ZooKeeper beside the election path: maintenance mode
//! (`<election.path>-pause`, as Patroni's pause) and the planned-handover request
//! (`<election.path>-handover`). Their paths and data, read by the daemons and `status`, written
//! by `pause`, `resume` and `handover`.

use serde::{Deserialize, Serialize};

/// The maintenance-mode node: it exists while the cluster is paused.
pub fn pause_path(election_path: &str) -> String {
    format!("{election_path}-pause")
}

/// The planned-handover request node.
pub fn handover_path(election_path: &str) -> String {
    format!("{election_path}-handover")
}

/// The pause node's data. Its existence is what pauses; the data says who and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseNote {
    /// Who paused (user@host of the command).
    pub paused_by: String,
    /// Unix time (ms, the command's clock) of the pause.
    pub since_ms: i64,
    /// Free text from `pause --reason`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The handover request node's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoverNote {
    /// The term of the leader that is to step down.
    pub from_epoch: u64,
    /// That leader's node id.
    pub from_node: String,
    /// Who is to lead next; `None` for any other contender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Who asked (user@host of the command).
    pub requested_by: String,
    /// Unix time (ms, the command's clock) of the request.
    pub requested_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_nodes_sit_beside_the_election_path() {
        assert_eq!(pause_path("/flink/leader"), "/flink/leader-pause");
        assert_eq!(handover_path("/flink/leader"), "/flink/leader-handover");
    }

    #[test]
    fn notes_round_trip() {
        let note = HandoverNote {
            from_epoch: 3,
            from_node: "jm1".into(),
            to: None,
            requested_by: "ops@host".into(),
            requested_ms: 5,
        };
        let json = serde_json::to_string(&note).unwrap();
        assert!(!json.contains("\"to\""), "{json}");
        assert_eq!(serde_json::from_str::<HandoverNote>(&json).unwrap(), note);
    }
}
