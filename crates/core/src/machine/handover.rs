//! Planned handovers (`flink-ha-supervisor handover`): when this leader steps down, steps aside,
//! or fulfils a request that names it.

use std::time::Instant;

use super::{Action, Report};
use super::{HandoverTarget, JobManager, Machine, Output, ResignReason, Role, StopReason};

impl Machine {
    /// Acts on the current handover request, if any.
    pub(super) fn on_handover(&mut self, now: Instant, out: &mut Output) {
        let (Some(request), Role::Leader { epoch }) = (self.handover, self.role) else { return };
        if self.paused || self.shutting_down || self.resign_pending.is_some() {
            return;
        }
        if request.from_epoch == epoch {
            if request.target != HandoverTarget::ThisNode {
                self.report(now, Report::HandingOver, out);
                if self.jm.is_running() {
                    self.stop(StopReason::Handover, self.timings.stop_grace, out);
                }
                self.resign(ResignReason::Handover, out);
            } else {
                self.fulfil_handover_when_ready(now, out);
            }
        } else if request.target == HandoverTarget::OtherNode {
            // Elected before the request reached us: let the named node pass.
            self.report(now, Report::SteppedAside { epoch }, out);
            if self.jm.is_running() {
                self.stop(StopReason::Handover, self.timings.stop_grace, out);
            }
            self.resign(ResignReason::StepAside, out);
        } else {
            self.fulfil_handover_when_ready(now, out);
        }
    }

    /// Clears a request that this node fulfils as soon as its JobManager is ready.
    pub(super) fn fulfil_handover_when_ready(&mut self, now: Instant, out: &mut Output) {
        if self.jm == JobManager::Ready {
            self.clear_handover_when_ready = false;
            self.report(now, Report::HandoverCompleted, out);
            out.actions.push(Action::ClearHandover);
        } else {
            self.clear_handover_when_ready = true;
        }
    }
}
