//! SubmitSurvey and GetSurvey.

use contracts::feedback::{GetSurveyRequest, SubmitSurveyRequest};
use runtime::Actor;
use runtime::grpc::FieldViolations;

use super::convert::{self, survey_tag_in, text};
use super::{FeedbackApi, request_hash};
use crate::domain::survey::{Answer, Csat, MAX_COMMENT_CHARS, Nps, Submitted, Survey};
use crate::error::Error;
use crate::outgoing;
use crate::store::{self, request_ids::Claim};

const SUBMIT: &str = "SubmitSurvey";

/// A survey request made valid: which survey, and the answer.
struct Submission {
    request_id: String,
    survey_id: uuid::Uuid,
    answer: Answer,
}

impl TryFrom<&SubmitSurveyRequest> for Submission {
    type Error = FieldViolations;

    fn try_from(r: &SubmitSurveyRequest) -> Result<Self, FieldViolations> {
        let mut v = FieldViolations::new();
        let request_id = text(
            &mut v,
            "request_id",
            &r.request_id,
            true,
            convert::MAX_ID_CHARS,
        );
        let survey_id = convert::uuid(&mut v, "survey_id", &r.survey_id, true);
        let csat = Csat::new(r.csat_score);
        if csat.is_none() {
            v.add("csat_score", "must be 1 to 5");
        }
        let nps = match r.nps_score {
            None => None,
            Some(score) => {
                let nps = Nps::new(score);
                if nps.is_none() {
                    v.add("nps_score", "must be 0 to 10 (or unset)");
                }
                nps
            }
        };
        let comment = text(&mut v, "comment", &r.comment, false, MAX_COMMENT_CHARS);
        let mut tags = Vec::new();
        for (i, raw) in r.tags.iter().enumerate() {
            match survey_tag_in(*raw) {
                Some(tag) if tags.contains(&tag) => v.add(format!("tags[{i}]"), "is repeated"),
                Some(tag) => tags.push(tag),
                None => v.add(format!("tags[{i}]"), "must be a known SurveyTag"),
            }
        }
        match (survey_id, csat) {
            (Some(survey_id), Some(csat)) if v.is_empty() => Ok(Self {
                request_id,
                survey_id,
                answer: Answer::new(csat, nps, comment, tags),
            }),
            _ => Err(v),
        }
    }
}

impl FeedbackApi {
    pub(super) async fn survey_submit(
        &self,
        actor: &Actor,
        request: SubmitSurveyRequest,
    ) -> Result<Survey, Error> {
        let hash = request_hash(actor, &request);
        let submission = Submission::try_from(&request)?;
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        match store::request_ids::claim(&mut tx, SUBMIT, &submission.request_id, &hash, now).await?
        {
            Claim::Conflict => {
                return Err(Error::AlreadyExists(format!(
                    "request_id {} was already used for a different request",
                    submission.request_id
                )));
            }
            Claim::Replay(_) => {
                return self
                    .survey_visible(&mut tx, actor, submission.survey_id)
                    .await;
            }
            Claim::New => {}
        }
        let mut survey = store::surveys::get_for_update(&mut tx, submission.survey_id)
            .await?
            .filter(|s| actor.may_access_customer(&s.customer_id))
            .ok_or_else(|| Error::NotFound(format!("survey {}", submission.survey_id)))?;
        if survey.submit(submission.answer, now)? == Submitted::Recorded {
            store::surveys::save(&mut tx, &survey).await?;
            self.outbox
                .append(&mut tx, &outgoing::survey_submitted(&survey))
                .await?;
            tracing::info!(survey_id = %survey.id, order_id = %survey.order_id, "survey answered");
        }
        store::request_ids::complete(&mut tx, SUBMIT, &submission.request_id, survey.id).await?;
        self.outbox.commit(tx).await?;
        Ok(survey)
    }

    pub(super) async fn survey_get(
        &self,
        actor: &Actor,
        request: &GetSurveyRequest,
    ) -> Result<Survey, Error> {
        let mut v = FieldViolations::new();
        let survey_id = convert::uuid(&mut v, "survey_id", &request.survey_id, false);
        let order_id = convert::uuid(&mut v, "order_id", &request.order_id, false);
        if request.survey_id.trim().is_empty() == request.order_id.trim().is_empty() {
            v.add("survey_id", "give exactly one of survey_id and order_id");
        }
        if !v.is_empty() {
            return Err(v.into());
        }
        let mut conn = self.pool.acquire().await?;
        let (survey, what) = match (survey_id, order_id) {
            (Some(id), _) => (
                store::surveys::get(&mut conn, id).await?,
                format!("survey {id}"),
            ),
            (None, Some(order)) => (
                store::surveys::get_by_order(&mut conn, order).await?,
                format!("survey of order {order}"),
            ),
            (None, None) => (None, "survey".to_owned()),
        };
        // A customer asking for someone else's survey learns nothing, not even that it exists.
        survey
            .filter(|s| actor.may_access_customer(&s.customer_id))
            .ok_or(Error::NotFound(what))
    }

    async fn survey_visible(
        &self,
        conn: &mut sqlx::PgConnection,
        actor: &Actor,
        id: uuid::Uuid,
    ) -> Result<Survey, Error> {
        store::surveys::get(conn, id)
            .await?
            .filter(|s| actor.may_access_customer(&s.customer_id))
            .ok_or_else(|| Error::NotFound(format!("survey {id}")))
    }
}
