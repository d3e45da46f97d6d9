//! Feedback's durable timers (rows in `oc_timers`, fired on the service clock): the survey
//! invitation after delivery ([`survey_invitation`]) and the two SLA deadlines of every case
//! ([`sla`]).

pub mod sla;
pub mod survey_invitation;

use messaging::HandlerError;

use crate::store::StoreError;

/// Survey invitations, keyed by survey id.
pub const SURVEY_INVITATION: &str = "feedback.survey_invitation";
/// First-response deadlines, keyed by case id.
pub const FIRST_RESPONSE_DUE: &str = "feedback.sla_first_response";
/// Resolution deadlines, keyed by case id.
pub const RESOLUTION_DUE: &str = "feedback.sla_resolution";

impl From<StoreError> for HandlerError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Db(err) => HandlerError::from(err),
            // A row the domain cannot read will not read better on a retry.
            corrupt @ StoreError::Corrupt { .. } => HandlerError::permanent(corrupt),
        }
    }
}
